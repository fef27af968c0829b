//! MLflow's search grammar: filter strings (`metrics.loss < 0.9 AND params.lr = '0.1'`) and `order_by` clauses,
//! parsed into a small AST that the SQL backends turn into queries with bound parameters (values are never
//! spliced into SQL text). Hand-written rather than a parser crate: the grammar is a dozen token kinds, and the
//! error messages must match MLflow's.

use crate::error::StoreError;

/// What a clause's identifier refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entity {
    /// `metrics.<key>`: the run's latest value of that metric.
    Metric(String),
    /// `params.<key>`.
    Param(String),
    /// `tags.<key>`.
    Tag(String),
    /// An attribute column (`status`, `start_time`, `name` …), spelled canonically.
    Attribute(String),
    /// `datasets.<field>` (name, digest, context).
    Dataset(String),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `LIKE` (case-sensitive)
    Like,
    /// `ILIKE` (case-insensitive)
    ILike,
    /// `IN (…)`
    In,
    /// `NOT IN (…)`
    NotIn,
    /// `IS NULL`
    IsNull,
    /// `IS NOT NULL`
    IsNotNull,
}

impl Comparator {
    /// SQL spelling of the simple comparators.
    pub fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Gt => ">",
            Self::Le => "<=",
            Self::Ge => ">=",
            Self::Like | Self::ILike => "LIKE",
            Self::In => "IN",
            Self::NotIn => "NOT IN",
            Self::IsNull => "IS NULL",
            Self::IsNotNull => "IS NOT NULL",
        }
    }
    /// Whether this is one of `= != < > <= >=`.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Self::Eq | Self::Ne | Self::Lt | Self::Gt | Self::Le | Self::Ge
        )
    }
}

/// The right-hand side of a clause.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A quoted string.
    Str(String),
    /// A number (its text kept for integer attributes).
    Number(f64),
    /// A parenthesised list of quoted strings.
    List(Vec<String>),
    /// Nothing (`IS NULL`, `IS NOT NULL`).
    Null,
}

/// One `ident op value` clause.
#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    /// What is compared.
    pub entity: Entity,
    /// How.
    pub op: Comparator,
    /// With what.
    pub value: Value,
}

/// One `order_by` item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderBy {
    /// The sort key.
    pub entity: Entity,
    /// Ascending?
    pub ascending: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    /// An identifier written with a prefix and a quoted key: tags.`a b`
    PrefixedQuoted(String, String),
    Backticked(String),
    DoubleQuoted(String),
    SingleQuoted(String),
    Number(f64),
    Op(String),
    LParen,
    RParen,
    Comma,
}

fn tokenize(input: &str) -> Result<Vec<Token>, StoreError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let quoted = |start: usize, quote: char| -> Result<(String, usize), StoreError> {
        let mut out = String::new();
        let mut j = start + 1;
        while j < chars.len() {
            if chars[j] == quote {
                if j + 1 < chars.len() && chars[j + 1] == quote {
                    out.push(quote);
                    j += 2;
                    continue;
                }
                return Ok((out, j + 1));
            }
            if chars[j] == '\\' && j + 1 < chars.len() && chars[j + 1] == quote {
                out.push(quote);
                j += 2;
                continue;
            }
            out.push(chars[j]);
            j += 1;
        }
        Err(StoreError::invalid(format!(
            "Invalid filter string '{input}': unterminated {quote}-quoted value"
        )))
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            tokens.push(Token::LParen);
            i += 1;
        } else if c == ')' {
            tokens.push(Token::RParen);
            i += 1;
        } else if c == ',' {
            tokens.push(Token::Comma);
            i += 1;
        } else if c == '\'' {
            let (s, next) = quoted(i, '\'')?;
            tokens.push(Token::SingleQuoted(s));
            i = next;
        } else if c == '"' {
            let (s, next) = quoted(i, '"')?;
            tokens.push(Token::DoubleQuoted(s));
            i = next;
        } else if c == '`' {
            let (s, next) = quoted(i, '`')?;
            tokens.push(Token::Backticked(s));
            i = next;
        } else if matches!(c, '<' | '>' | '=' | '!' | '~') {
            let start = i;
            while i < chars.len() && matches!(chars[i], '<' | '>' | '=' | '!' | '~') {
                i += 1;
            }
            tokens.push(Token::Op(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit()
            || ((c == '-' || c == '+' || c == '.')
                && chars
                    .get(i + 1)
                    .is_some_and(|d| d.is_ascii_digit() || *d == '.'))
        {
            let start = i;
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric()
                    || chars[i] == '.'
                    || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            match text.parse::<f64>() {
                Ok(n) => tokens.push(Token::Number(n)),
                // `1abc` is a word, not a number: let the clause parser reject it in context.
                Err(_) => tokens.push(Token::Word(text)),
            }
        } else {
            let start = i;
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(
                    chars[i],
                    '(' | ')' | ',' | '\'' | '"' | '`' | '<' | '>' | '=' | '!' | '~'
                )
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if word.ends_with('.') && i < chars.len() && matches!(chars[i], '`' | '"') {
                let (key, next) = quoted(i, chars[i])?;
                tokens.push(Token::PrefixedQuoted(
                    word.trim_end_matches('.').to_string(),
                    key,
                ));
                i = next;
            } else if word.is_empty() {
                return Err(StoreError::invalid(format!(
                    "Invalid filter string '{input}' at '{c}'"
                )));
            } else {
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// Which identifiers and attributes a search accepts.
#[derive(Clone, Copy, Debug)]
pub struct Grammar {
    /// Attribute keys accepted bare or with the attribute prefix, and their canonical spelling.
    pub attributes: &'static [(&'static str, &'static str)],
    /// Whether `metrics.`, `params.` and `datasets.` prefixes are allowed (runs) or only `tags.` (experiments).
    pub run_entities: bool,
}

/// The runs search grammar.
pub const RUNS: Grammar = Grammar {
    attributes: &[
        ("run_id", "run_id"),
        ("run_name", "run_name"),
        ("run name", "run_name"),
        ("status", "status"),
        ("user_id", "user_id"),
        ("artifact_uri", "artifact_uri"),
        ("start_time", "start_time"),
        ("end_time", "end_time"),
        ("created", "start_time"),
        ("Created", "start_time"),
        ("lifecycle_stage", "lifecycle_stage"),
    ],
    run_entities: true,
};

/// The experiments search grammar.
pub const EXPERIMENTS: Grammar = Grammar {
    attributes: &[
        ("name", "name"),
        ("experiment_id", "experiment_id"),
        ("creation_time", "creation_time"),
        ("last_update_time", "last_update_time"),
    ],
    run_entities: false,
};

fn attribute(grammar: &Grammar, key: &str) -> Result<Entity, StoreError> {
    grammar
        .attributes
        .iter()
        .find(|(alias, _)| *alias == key)
        .map(|(_, canonical)| Entity::Attribute((*canonical).to_string()))
        .ok_or_else(|| {
            let valid: Vec<&str> = grammar.attributes.iter().map(|(_, c)| *c).collect();
            StoreError::invalid(format!(
                "Invalid attribute key '{key}' specified. Valid keys are '{}'",
                valid.join("', '")
            ))
        })
}

fn entity_from(grammar: &Grammar, prefix: &str, key: &str) -> Result<Entity, StoreError> {
    let lower = prefix.to_ascii_lowercase();
    match lower.as_str() {
        "metric" | "metrics" if grammar.run_entities => Ok(Entity::Metric(key.to_string())),
        "param" | "params" | "parameter" | "parameters" if grammar.run_entities => {
            Ok(Entity::Param(key.to_string()))
        }
        "tag" | "tags" => Ok(Entity::Tag(key.to_string())),
        "attribute" | "attributes" | "attr" | "run" => attribute(grammar, key),
        "dataset" | "datasets" if grammar.run_entities => match key {
            "name" | "digest" | "context" => Ok(Entity::Dataset(key.to_string())),
            _ => Err(StoreError::invalid(format!(
                "Invalid dataset key '{key}'. Valid keys are 'name', 'digest', 'context'"
            ))),
        },
        _ => Err(StoreError::invalid(format!(
            "Invalid entity type '{prefix}'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']"
        ))),
    }
}

fn identifier(grammar: &Grammar, token: &Token) -> Result<Entity, StoreError> {
    match token {
        Token::Word(word) => match word.split_once('.') {
            Some((prefix, key)) if !key.is_empty() => entity_from(grammar, prefix, key),
            _ => attribute(grammar, word),
        },
        Token::PrefixedQuoted(prefix, key) => entity_from(grammar, prefix, key),
        Token::Backticked(key) | Token::DoubleQuoted(key) => attribute(grammar, key),
        other => Err(StoreError::invalid(format!(
            "Invalid identifier {}",
            describe(other)
        ))),
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => format!("'{w}'"),
        Token::PrefixedQuoted(p, k) => format!("'{p}.`{k}`'"),
        Token::Backticked(s) => format!("'`{s}`'"),
        Token::DoubleQuoted(s) => format!("'\"{s}\"'"),
        Token::SingleQuoted(s) => format!("''{s}''"),
        Token::Number(n) => format!("'{n}'"),
        Token::Op(o) => format!("'{o}'"),
        Token::LParen => "'('".into(),
        Token::RParen => "')'".into(),
        Token::Comma => "','".into(),
    }
}

const VALID_COMPARATORS: &str =
    "{'=', '!=', '>', '>=', '<', '<=', 'LIKE', 'ILIKE', 'IN', 'NOT IN', 'IS'}";

/// Parses a filter string; an empty or blank string gives no clauses.
pub fn parse_filter(grammar: &Grammar, filter: &str) -> Result<Vec<Clause>, StoreError> {
    let tokens = tokenize(filter)?;
    let mut clauses = Vec::new();
    let mut pos = 0;
    let invalid =
        |what: String| StoreError::invalid(format!("Invalid filter string '{filter}': {what}"));
    let word_is = |t: Option<&Token>, kw: &str| matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw));
    while pos < tokens.len() {
        if !clauses.is_empty() {
            if word_is(tokens.get(pos), "and") {
                pos += 1;
            } else {
                let found = tokens.get(pos).map(describe).unwrap_or_default();
                return Err(StoreError::invalid(format!(
                    "Invalid clause(s) in filter string: {found}"
                )));
            }
        }
        let Some(ident_token) = tokens.get(pos) else {
            return Err(invalid("expected a clause after 'AND'".into()));
        };
        if word_is(Some(ident_token), "or") || word_is(Some(ident_token), "and") {
            return Err(StoreError::invalid(format!(
                "Invalid clause(s) in filter string: {}",
                describe(ident_token)
            )));
        }
        let entity = identifier(grammar, ident_token)?;
        pos += 1;
        let op = match tokens.get(pos) {
            Some(Token::Op(op)) => match op.as_str() {
                "=" | "==" => Comparator::Eq,
                "!=" | "<>" => Comparator::Ne,
                "<" => Comparator::Lt,
                ">" => Comparator::Gt,
                "<=" => Comparator::Le,
                ">=" => Comparator::Ge,
                other => {
                    return Err(StoreError::invalid(format!(
                        "Invalid comparator '{other}' not one of '{VALID_COMPARATORS}'"
                    )));
                }
            },
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("like") => Comparator::Like,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("ilike") => Comparator::ILike,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("in") => Comparator::In,
            Some(Token::Word(w))
                if w.eq_ignore_ascii_case("not") && word_is(tokens.get(pos + 1), "in") =>
            {
                pos += 1;
                Comparator::NotIn
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("is") => {
                if word_is(tokens.get(pos + 1), "null") {
                    pos += 1;
                    Comparator::IsNull
                } else if word_is(tokens.get(pos + 1), "not")
                    && word_is(tokens.get(pos + 2), "null")
                {
                    pos += 2;
                    Comparator::IsNotNull
                } else {
                    return Err(invalid(
                        "'IS' must be followed by 'NULL' or 'NOT NULL'".into(),
                    ));
                }
            }
            Some(other) => {
                return Err(StoreError::invalid(format!(
                    "Invalid comparator {} not one of '{VALID_COMPARATORS}'",
                    describe(other)
                )));
            }
            None => {
                return Err(invalid(
                    "a clause is missing its comparator and value".into(),
                ));
            }
        };
        pos += 1;
        let value = match op {
            Comparator::IsNull | Comparator::IsNotNull => Value::Null,
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
                        Some(Token::SingleQuoted(s)) | Some(Token::DoubleQuoted(s)) => {
                            items.push(s.clone())
                        }
                        _ => return Err(invalid("IN lists hold quoted strings only".into())),
                    }
                    pos += 1;
                    match tokens.get(pos) {
                        Some(Token::Comma) => pos += 1,
                        Some(Token::RParen) => break,
                        _ => return Err(invalid("unterminated IN list".into())),
                    }
                }
                pos += 1;
                Value::List(items)
            }
            _ => {
                let v = match tokens.get(pos) {
                    Some(Token::SingleQuoted(s)) | Some(Token::DoubleQuoted(s)) => {
                        Value::Str(s.clone())
                    }
                    Some(Token::Number(n)) => Value::Number(*n),
                    Some(other) => {
                        return Err(invalid(format!("unexpected value {}", describe(other))));
                    }
                    None => return Err(invalid("a clause is missing its value".into())),
                };
                pos += 1;
                v
            }
        };
        let clause = Clause { entity, op, value };
        check_clause(&clause)?;
        clauses.push(clause);
    }
    Ok(clauses)
}

const NUMERIC_ATTRIBUTES: &[&str] = &[
    "start_time",
    "end_time",
    "creation_time",
    "last_update_time",
];

fn check_clause(clause: &Clause) -> Result<(), StoreError> {
    let Clause { entity, op, value } = clause;
    let op_error = |kind: &str, key: &str| {
        StoreError::invalid(format!(
            "Invalid comparator '{}' for {kind} '{key}'",
            op.sql()
        ))
    };
    match entity {
        Entity::Metric(key) => {
            if !op.is_numeric() {
                return Err(op_error("metric", key));
            }
            match value {
                Value::Number(_) => Ok(()),
                Value::Str(s) => Err(StoreError::invalid(format!(
                    "Expected numeric value type for metric. Found '{s}'"
                ))),
                _ => Err(StoreError::invalid(
                    "Expected numeric value type for metric.",
                )),
            }
        }
        Entity::Param(key) | Entity::Tag(key) => {
            let kind = if matches!(entity, Entity::Param(_)) {
                "parameter"
            } else {
                "tag"
            };
            if !matches!(
                op,
                Comparator::Eq
                    | Comparator::Ne
                    | Comparator::Like
                    | Comparator::ILike
                    | Comparator::IsNull
                    | Comparator::IsNotNull
            ) {
                return Err(op_error(kind, key));
            }
            match value {
                Value::Str(_) | Value::Null => Ok(()),
                _ => Err(StoreError::invalid(format!(
                    "Expected a quoted string value for {kind} '{key}'"
                ))),
            }
        }
        Entity::Attribute(key) if NUMERIC_ATTRIBUTES.contains(&key.as_str()) => {
            if !op.is_numeric() {
                return Err(op_error("attribute", key));
            }
            match value {
                Value::Number(n) if n.fract() == 0.0 => Ok(()),
                _ => Err(StoreError::invalid(format!(
                    "Expected an integer value (milliseconds) for attribute '{key}'"
                ))),
            }
        }
        Entity::Attribute(key) => {
            let lists_allowed = key == "run_id" || key == "experiment_id";
            match (op, value) {
                (Comparator::In | Comparator::NotIn, Value::List(_)) if lists_allowed => Ok(()),
                (Comparator::In | Comparator::NotIn, _) => Err(StoreError::invalid(
                    "Only ['run_id', 'experiment_id'] attributes support comparison with a list of quoted string \
                     values.",
                )),
                (
                    Comparator::Eq | Comparator::Ne | Comparator::Like | Comparator::ILike,
                    Value::Str(_),
                ) => Ok(()),
                (Comparator::Eq | Comparator::Ne | Comparator::Like | Comparator::ILike, _) => {
                    Err(StoreError::invalid(format!(
                        "Expected a quoted string value for attribute '{key}'"
                    )))
                }
                _ => Err(op_error("attribute", key)),
            }
        }
        Entity::Dataset(key) => match (op, value) {
            (Comparator::In | Comparator::NotIn, Value::List(_)) => Ok(()),
            (
                Comparator::Eq | Comparator::Ne | Comparator::Like | Comparator::ILike,
                Value::Str(_),
            ) => Ok(()),
            _ => Err(op_error("dataset", key)),
        },
    }
}

/// Parses `order_by` items; a key given twice is [`StoreError::InvalidParameter`] (MLflow answers 500 there).
pub fn parse_order_by(grammar: &Grammar, items: &[String]) -> Result<Vec<OrderBy>, StoreError> {
    let mut out: Vec<OrderBy> = Vec::with_capacity(items.len());
    for item in items {
        let tokens = tokenize(item)?;
        let bad = || {
            StoreError::invalid(format!(
                "Invalid order_by clause '{item}'. Expected '<key> [ASC|DESC]'"
            ))
        };
        let (ident, direction) = match tokens.as_slice() {
            [ident] => (ident, None),
            [ident, Token::Word(dir)] => (ident, Some(dir.as_str())),
            _ => return Err(bad()),
        };
        let entity = identifier(grammar, ident)?;
        if matches!(entity, Entity::Dataset(_)) {
            return Err(bad());
        }
        let ascending = match direction.map(str::to_ascii_uppercase).as_deref() {
            None | Some("ASC") => true,
            Some("DESC") => false,
            Some(_) => return Err(bad()),
        };
        if out.iter().any(|o| o.entity == entity) {
            return Err(StoreError::invalid(format!(
                "`order_by` contains duplicate fields: '{item}'"
            )));
        }
        out.push(OrderBy { entity, ascending });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checklist_filter_parses() {
        let clauses = parse_filter(
            &RUNS,
            "metrics.loss < 0.9 and params.i != '5' and attributes.status = 'FINISHED' and tags.mlflow.runName LIKE 's%'",
        )
        .unwrap();
        assert_eq!(clauses.len(), 4);
        assert_eq!(clauses[0].entity, Entity::Metric("loss".into()));
        assert_eq!(clauses[0].value, Value::Number(0.9));
        assert_eq!(clauses[3].entity, Entity::Tag("mlflow.runName".into()));
        assert_eq!(clauses[3].op, Comparator::Like);
    }

    #[test]
    fn quoted_keys_and_lists_parse() {
        let c = parse_filter(
            &RUNS,
            "tags.`mlflow.runName` = 'x' AND `run name` ILIKE 'A%'",
        )
        .unwrap();
        assert_eq!(c[0].entity, Entity::Tag("mlflow.runName".into()));
        assert_eq!(c[1].entity, Entity::Attribute("run_name".into()));
        let c = parse_filter(&RUNS, "run_id IN ('a', 'b') and params.x IS NULL").unwrap();
        assert_eq!(c[0].value, Value::List(vec!["a".into(), "b".into()]));
        assert_eq!(c[1].op, Comparator::IsNull);
        assert!(parse_filter(&RUNS, "").unwrap().is_empty());
        assert!(parse_filter(&RUNS, "   ").unwrap().is_empty());
    }

    #[test]
    fn the_checklist_bad_filters_are_refused() {
        for bad in [
            "metrics.a < 1 OR metrics.b > 2",
            "metrics.a >>> 1",
            "metrics.m = 'x'",
            "params.a > 1",
            "status IN ('FINISHED')",
            "metrics.m IS NULL",
            "nonsense.x = '1'",
            "params.a = ",
            "params.a = 'unterminated",
            "start_time > 'x'",
        ] {
            assert!(parse_filter(&RUNS, bad).is_err(), "accepted: {bad}");
        }
        let err = parse_filter(&RUNS, "metrics.m = 'x'")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "Expected numeric value type for metric. Found 'x'");
        let err = parse_filter(&RUNS, "metrics.a >>> 1")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("Invalid comparator '>>>'"), "{err}");
    }

    #[test]
    fn order_by_parses_and_refuses_duplicates() {
        let o = parse_order_by(
            &RUNS,
            &[
                "metrics.loss ASC".into(),
                "attributes.start_time DESC".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            o[0],
            OrderBy {
                entity: Entity::Metric("loss".into()),
                ascending: true
            }
        );
        assert_eq!(
            o[1],
            OrderBy {
                entity: Entity::Attribute("start_time".into()),
                ascending: false
            }
        );
        assert!(
            parse_order_by(
                &RUNS,
                &["start_time".into(), "attributes.start_time DESC".into()]
            )
            .is_err()
        );
        assert!(parse_order_by(&RUNS, &["bogus".into()]).is_err());
        assert!(parse_order_by(&EXPERIMENTS, &["name DESC".into()]).is_ok());
    }
}
