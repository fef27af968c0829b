//! The registry search grammar (MLflow §3.5): `clause (AND clause)*` over `name`, `run_id`, `source_path`,
//! `version_number` and `tags.<key>`, plus `order_by` items. Written here rather than reusing
//! [`crate::filter`] because the registry's attributes, allowed operators and the prompt-tag rule differ from the
//! runs grammar; values still never reach SQL text (the SQL backend binds them).

use crate::error::StoreError;
use crate::filter::Comparator;

/// The tag that marks prompts (MLflow stores prompts as registered models).
pub const PROMPT_TAG: &str = "mlflow.prompt.is_prompt";

/// Which entity a search is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `registered-models/search`.
    RegisteredModels,
    /// `model-versions/search`.
    ModelVersions,
}

/// What a clause compares.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    /// The model name.
    Name,
    /// The version's run id.
    RunId,
    /// The version's source.
    SourcePath,
    /// The version number.
    VersionNumber,
    /// A tag value.
    Tag(String),
    /// The prompt rule: `true` keeps only prompts, `false` drops them (entities without the tag stay).
    Prompts(bool),
}

/// A clause's right-hand side.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// A quoted string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A list of quoted strings (`IN`, `NOT IN`).
    List(Vec<String>),
}

/// One parsed clause.
#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    /// What.
    pub field: Field,
    /// How.
    pub op: Comparator,
    /// With what.
    pub operand: Operand,
}

/// One parsed `order_by` item; `key` is a column-safe canonical name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    /// `name`, `version_number`, `creation_timestamp` or `last_updated_timestamp`.
    pub key: &'static str,
    /// Ascending?
    pub ascending: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Number(String),
    Op(String),
    LParen,
    RParen,
    Comma,
}

fn tokenize(text: &str) -> Result<Vec<Token>, StoreError> {
    let bad = |what: &str| StoreError::invalid(format!("Invalid filter string '{text}': {what}"));
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut value = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(bad("unterminated string")),
                    Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                        value.push(c);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        value.push(other);
                        i += 1;
                    }
                }
            }
            tokens.push(Token::Quoted(value));
        } else if c == '(' {
            tokens.push(Token::LParen);
            i += 1;
        } else if c == ')' {
            tokens.push(Token::RParen);
            i += 1;
        } else if c == ',' {
            tokens.push(Token::Comma);
            i += 1;
        } else if "=!<>".contains(c) {
            let mut op = String::from(c);
            i += 1;
            while let Some(&n) = chars.get(i).filter(|n| "=!<>".contains(**n)) {
                op.push(n);
                i += 1;
            }
            tokens.push(Token::Op(op));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while chars
                .get(i)
                .is_some_and(|d| d.is_ascii_digit() || *d == '.')
            {
                i += 1;
            }
            tokens.push(Token::Number(chars[start..i].iter().collect()));
        } else if c.is_alphanumeric() || c == '_' || c == '`' {
            // An identifier: word characters and dots, with `back-quoted` parts kept verbatim.
            let mut word = String::new();
            while let Some(&w) = chars.get(i) {
                if w == '`' {
                    i += 1;
                    loop {
                        match chars.get(i) {
                            None => return Err(bad("unterminated back-quoted key")),
                            Some('`') => {
                                i += 1;
                                break;
                            }
                            Some(&k) => {
                                word.push(k);
                                i += 1;
                            }
                        }
                    }
                } else if w.is_alphanumeric() || w == '_' || w == '.' || w == '-' {
                    word.push(w);
                    i += 1;
                } else {
                    break;
                }
            }
            tokens.push(Token::Word(word));
        } else {
            return Err(bad(&format!("unexpected character '{c}'")));
        }
    }
    Ok(tokens)
}

fn valid_keys(target: Target) -> &'static str {
    match target {
        Target::RegisteredModels => "'name', 'tags.<key>'",
        Target::ModelVersions => "'name', 'run_id', 'source_path', 'version_number', 'tags.<key>'",
    }
}

fn field(target: Target, word: &str) -> Result<Field, StoreError> {
    let lower = word.to_ascii_lowercase();
    for prefix in ["tags.", "tag."] {
        if lower.starts_with(prefix) && word.len() > prefix.len() {
            return Ok(Field::Tag(word[prefix.len()..].to_string()));
        }
    }
    let bare = lower
        .strip_prefix("attributes.")
        .or_else(|| lower.strip_prefix("attribute."))
        .unwrap_or(&lower);
    match (target, bare) {
        (_, "name") => Ok(Field::Name),
        (Target::ModelVersions, "run_id") => Ok(Field::RunId),
        (Target::ModelVersions, "source_path") => Ok(Field::SourcePath),
        (Target::ModelVersions, "version_number") => Ok(Field::VersionNumber),
        _ => Err(StoreError::invalid(format!(
            "Invalid attribute key '{word}' specified. Valid keys are {}",
            valid_keys(target)
        ))),
    }
}

/// Parses a registry filter. The prompt tag turns into [`Field::Prompts`].
///
/// # Errors
/// [`StoreError::InvalidParameter`] for anything outside the grammar.
pub fn parse_filter(target: Target, filter: &str) -> Result<Vec<Clause>, StoreError> {
    let tokens = tokenize(filter)?;
    let invalid =
        |what: String| StoreError::invalid(format!("Invalid filter string '{filter}': {what}"));
    let mut clauses = Vec::new();
    let mut pos = 0;
    while pos < tokens.len() {
        if !clauses.is_empty() {
            match tokens.get(pos) {
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("and") => pos += 1,
                other => return Err(invalid(format!("expected AND, found {other:?}"))),
            }
        }
        let Some(Token::Word(word)) = tokens.get(pos) else {
            return Err(invalid("expected an identifier".into()));
        };
        if word.eq_ignore_ascii_case("or") || word.eq_ignore_ascii_case("and") {
            return Err(StoreError::invalid(format!(
                "Invalid clause(s) in filter string: '{word}'"
            )));
        }
        let field = field(target, word)?;
        pos += 1;
        let op = match tokens.get(pos) {
            Some(Token::Op(op)) => match op.as_str() {
                "=" | "==" => Comparator::Eq,
                "!=" | "<>" => Comparator::Ne,
                "<" => Comparator::Lt,
                ">" => Comparator::Gt,
                "<=" => Comparator::Le,
                ">=" => Comparator::Ge,
                other => return Err(invalid(format!("invalid comparator '{other}'"))),
            },
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("like") => Comparator::Like,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("ilike") => Comparator::ILike,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("in") => Comparator::In,
            Some(Token::Word(w))
                if w.eq_ignore_ascii_case("not")
                    && matches!(tokens.get(pos + 1), Some(Token::Word(n)) if n.eq_ignore_ascii_case("in")) =>
            {
                pos += 1;
                Comparator::NotIn
            }
            other => return Err(invalid(format!("invalid comparator {other:?}"))),
        };
        pos += 1;
        let operand = match op {
            Comparator::In | Comparator::NotIn => {
                if tokens.get(pos) != Some(&Token::LParen) {
                    return Err(invalid(
                        "IN must be followed by a parenthesised list of quoted strings".into(),
                    ));
                }
                pos += 1;
                let mut items = Vec::new();
                loop {
                    match tokens.get(pos) {
                        Some(Token::Quoted(s)) => items.push(s.clone()),
                        _ => return Err(invalid("IN lists hold quoted strings only".into())),
                    }
                    pos += 1;
                    match tokens.get(pos) {
                        Some(Token::Comma) => pos += 1,
                        Some(Token::RParen) => break,
                        _ => return Err(invalid("unterminated IN list".into())),
                    }
                }
                Operand::List(items)
            }
            _ => match tokens.get(pos) {
                Some(Token::Quoted(s)) => Operand::Str(s.clone()),
                Some(Token::Number(n)) => Operand::Int(
                    n.parse::<i64>()
                        .map_err(|_| invalid(format!("'{n}' is not an integer")))?,
                ),
                other => return Err(invalid(format!("unexpected value {other:?}"))),
            },
        };
        pos += 1;
        clauses.push(check(field, op, operand)?);
    }
    Ok(clauses)
}

fn check(field: Field, op: Comparator, operand: Operand) -> Result<Clause, StoreError> {
    use Comparator::*;
    let ok = match (&field, op, &operand) {
        (Field::Tag(key), Eq | Ne, Operand::Str(value)) if key == PROMPT_TAG => {
            let is_true = value.eq_ignore_ascii_case("true");
            let selects_prompts =
                (op == Eq && is_true) || (op == Ne && value.eq_ignore_ascii_case("false"));
            return Ok(Clause {
                field: Field::Prompts(selects_prompts),
                op,
                operand,
            });
        }
        (Field::Tag(_) | Field::SourcePath, Eq | Ne | Like | ILike, Operand::Str(_)) => true,
        (Field::Name | Field::RunId, Eq | Ne | Like | ILike, Operand::Str(_)) => true,
        (Field::Name | Field::RunId, In | NotIn, Operand::List(_)) => true,
        (Field::VersionNumber, Eq | Ne | Lt | Gt | Le | Ge, Operand::Int(_)) => true,
        _ => false,
    };
    if ok {
        Ok(Clause { field, op, operand })
    } else {
        Err(StoreError::invalid(format!(
            "Invalid comparison '{}' with {operand:?} for {field:?} in a registry search",
            op.sql()
        )))
    }
}

/// Parses `order_by` items for a registry search.
///
/// # Errors
/// [`StoreError::InvalidParameter`] for unknown keys, bad directions and duplicates.
pub fn parse_order_by(target: Target, items: &[String]) -> Result<Vec<Order>, StoreError> {
    let mut out: Vec<Order> = Vec::new();
    for item in items {
        let mut words = item.split_whitespace();
        let key = words.next().unwrap_or_default();
        let ascending = match words.next().map(str::to_ascii_uppercase).as_deref() {
            None | Some("ASC") => true,
            Some("DESC") => false,
            Some(_) => {
                return Err(StoreError::invalid(format!(
                    "Invalid order_by clause '{item}'. Expected '<key> [ASC|DESC]'"
                )));
            }
        };
        if words.next().is_some() {
            return Err(StoreError::invalid(format!(
                "Invalid order_by clause '{item}'. Expected '<key> [ASC|DESC]'"
            )));
        }
        let bare = key
            .strip_prefix("attributes.")
            .or_else(|| key.strip_prefix("attribute."))
            .unwrap_or(key);
        let canonical = match (target, bare) {
            (_, "name") => "name",
            (Target::RegisteredModels, "timestamp" | "last_updated_timestamp") => {
                "last_updated_timestamp"
            }
            (Target::ModelVersions, "version_number") => "version",
            (Target::ModelVersions, "creation_timestamp") => "creation_timestamp",
            (Target::ModelVersions, "last_updated_timestamp" | "timestamp") => {
                "last_updated_timestamp"
            }
            _ => {
                let valid = match target {
                    Target::RegisteredModels => "'name', 'timestamp', 'last_updated_timestamp'",
                    Target::ModelVersions => {
                        "'name', 'version_number', 'creation_timestamp', 'last_updated_timestamp'"
                    }
                };
                return Err(StoreError::invalid(format!(
                    "Invalid order_by key '{key}' specified. Valid keys are {valid}"
                )));
            }
        };
        if out.iter().any(|o| o.key == canonical) {
            return Err(StoreError::invalid(format!(
                "`order_by` contains duplicate fields: '{item}'"
            )));
        }
        out.push(Order {
            key: canonical,
            ascending,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_prompt_clause_keeps_ordinary_models() {
        let clauses = parse_filter(
            Target::RegisteredModels,
            "name LIKE 'v%' AND tag.`mlflow.prompt.is_prompt` != 'true'",
        )
        .unwrap();
        assert_eq!(clauses.len(), 2);
        assert_eq!(clauses[1].field, Field::Prompts(false));
        let only = parse_filter(
            Target::RegisteredModels,
            "tags.`mlflow.prompt.is_prompt` = 'TRUE'",
        )
        .unwrap();
        assert_eq!(only[0].field, Field::Prompts(true));
    }

    #[test]
    fn version_filters_and_refusals() {
        let clauses = parse_filter(
            Target::ModelVersions,
            "name='m' and version_number > 1 and run_id IN ('a', 'b')",
        )
        .unwrap();
        assert_eq!(clauses.len(), 3);
        assert_eq!(clauses[1].operand, Operand::Int(1));
        assert!(parse_filter(Target::ModelVersions, "current_stage = 'Production'").is_err());
        assert!(parse_filter(Target::RegisteredModels, "creation_timestamp > 1").is_err());
        assert!(parse_filter(Target::RegisteredModels, "name = 'a' OR name = 'b'").is_err());
        assert!(parse_filter(Target::ModelVersions, "version_number = '1'").is_err());
    }

    #[test]
    fn order_by_keys_and_duplicates() {
        let order = parse_order_by(Target::ModelVersions, &["version_number ASC".into()]).unwrap();
        assert_eq!(
            order,
            vec![Order {
                key: "version",
                ascending: true
            }]
        );
        assert!(
            parse_order_by(
                Target::RegisteredModels,
                &["name".into(), "name DESC".into()]
            )
            .is_err()
        );
        assert!(parse_order_by(Target::RegisteredModels, &["version_number".into()]).is_err());
    }
}
