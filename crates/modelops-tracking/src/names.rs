//! Generated run names (`adjective-animal-NNN`), as MLflow gives unnamed runs.

use rand::Rng;

const ADJECTIVES: &[&str] = &[
    "able", "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "daring", "eager",
    "fast", "gentle", "glad", "grand", "honest", "keen", "kind", "lively", "lucky", "merry",
    "mighty", "neat", "nimble", "polite", "proud", "quick", "quiet", "rare", "sharp", "shy",
    "silent", "smooth", "steady", "sunny", "swift", "tidy", "vast", "warm", "wise", "zesty",
];
const ANIMALS: &[&str] = &[
    "ant", "bat", "bear", "bee", "bison", "boar", "carp", "cat", "crab", "crane", "deer", "dove",
    "duck", "eel", "elk", "finch", "fox", "frog", "goat", "hare", "hawk", "heron", "ibis", "koala",
    "lark", "lion", "lynx", "mole", "moth", "newt", "owl", "panda", "ram", "seal", "shrew", "slug",
    "snail", "swan", "toad", "wolf",
];

/// A fresh `adjective-animal-NNN` name.
pub fn generate_run_name() -> String {
    let mut rng = rand::rng();
    let adjective = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
    let animal = ANIMALS[rng.random_range(0..ANIMALS.len())];
    format!("{adjective}-{animal}-{}", rng.random_range(0..1000))
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_names_have_three_parts() {
        let name = super::generate_run_name();
        assert_eq!(name.split('-').count(), 3, "{name}");
    }
}
