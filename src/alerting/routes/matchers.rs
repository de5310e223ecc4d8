//! Alertmanager label matchers (`severity=~"P0|P1"`), shared by routes, inhibition and
//! silences.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::promql::LabelSet;

crate::message_error! {
    /// A matcher that does not parse (the text quotes it).
    MatcherError
}

/// A matcher's operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `=~`
    Re,
    /// `!~`
    NotRe,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Re => "=~",
            Self::NotRe => "!~",
        }
    }
}

/// One label matcher, Alertmanager's.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// The label.
    pub name: String,
    /// How it compares.
    pub op: Op,
    /// The value, or the regular expression's source.
    pub value: String,
    /// Anchored, as in Alertmanager and PromQL.
    re: Option<Regex>,
}

/// Alertmanager API v2's matcher object.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiMatcher {
    /// The label.
    pub name: String,
    /// The value or regular expression.
    pub value: String,
    /// A regular expression.
    #[serde(default)]
    pub is_regex: bool,
    /// Equal (or matching), not different.
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

/// Compiled size a matcher's regular expression may take (the regex crate's measure):
/// every matcher is tried against every alert on every evaluation.
const REGEX_SIZE_LIMIT: usize = 256 << 10;

static SYNTAX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
        .expect("matcher syntax regex is valid")
});

impl Matcher {
    /// A matcher; a regular expression is anchored and compiled here.
    pub fn new(name: &str, op: Op, value: &str) -> Result<Self, MatcherError> {
        let re = match op {
            Op::Re | Op::NotRe => Some(
                regex::RegexBuilder::new(&format!("^(?:{value})$"))
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| {
                        MatcherError::from(format!("invalid regular expression {value:?}: {e}"))
                    })?,
            ),
            Op::Eq | Op::Ne => None,
        };
        Ok(Self {
            name: name.to_owned(),
            op,
            value: value.to_owned(),
            re,
        })
    }

    /// `name op value`, the value quoted (`"P0|P1"`, Go escapes) or bare.
    pub fn parse(text: &str) -> Result<Self, MatcherError> {
        let caps = SYNTAX.captures(text).ok_or_else(|| {
            MatcherError::from(format!(
                "{text:?} is not a matcher (name=value, !=, =~ or !~)"
            ))
        })?;
        let op = match &caps[2] {
            "=" => Op::Eq,
            "!=" => Op::Ne,
            "=~" => Op::Re,
            _ => Op::NotRe,
        };
        let raw = &caps[3];
        let value = if raw.starts_with('"') {
            promql_parser::util::unquote_string(raw).map_err(|_| {
                MatcherError::from(format!("{text:?}: the value's quotes are unbalanced"))
            })?
        } else {
            raw.to_owned()
        };
        Self::new(&caps[1], op, &value).map_err(|e| MatcherError::from(format!("{text:?}: {e}")))
    }

    /// Every matcher of a list; the first bad one is the error.
    pub fn parse_all(texts: &[String]) -> Result<Vec<Self>, MatcherError> {
        texts.iter().map(|t| Self::parse(t)).collect()
    }

    /// A matcher from Alertmanager's API object.
    pub fn from_api(m: &ApiMatcher) -> Result<Self, MatcherError> {
        let op = match (m.is_regex, m.is_equal) {
            (false, true) => Op::Eq,
            (false, false) => Op::Ne,
            (true, true) => Op::Re,
            (true, false) => Op::NotRe,
        };
        Self::new(&m.name, op, &m.value)
    }

    /// The API's object for it.
    pub fn to_api(&self) -> ApiMatcher {
        ApiMatcher {
            name: self.name.clone(),
            value: self.value.clone(),
            is_regex: matches!(self.op, Op::Re | Op::NotRe),
            is_equal: matches!(self.op, Op::Eq | Op::Re),
        }
    }

    /// A missing label matches as the empty string, as in Alertmanager.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        let v = labels.value(&self.name);
        match (&self.op, &self.re) {
            (Op::Eq, _) => v == self.value,
            (Op::Ne, _) => v != self.value,
            (Op::Re, Some(re)) => re.is_match(v),
            (Op::NotRe, Some(re)) => !re.is_match(v),
            (Op::Re | Op::NotRe, None) => false,
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

/// True when every matcher matches `labels`.
pub fn all_match(matchers: &[Matcher], labels: &LabelSet) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(pairs: &[(&str, &str)]) -> LabelSet {
        LabelSet::new(pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())))
    }

    #[test]
    fn parses_the_four_operators_quoted_or_bare() {
        let l = ls(&[("severity", "P1"), ("alertname", "PostgresqlDown")]);
        for (text, want) in [
            (r#"severity=~"P0|P1""#, true),
            ("severity=~P2|P3", false),
            (r#"severity!~"P[23]""#, true),
            ("alertname = PostgresqlDown", true),
            (r#"alertname!="PostgresqlDown""#, false),
            (r#"instance="""#, true),
            ("instance!=", false),
            (r#"summary="a \"quoted\" word""#, false),
        ] {
            let m = Matcher::parse(text).unwrap();
            assert_eq!(m.matches(&l), want, "{text}");
        }
        let m = Matcher::parse(r#"summary="a \"quoted\" word""#).unwrap();
        assert_eq!(m.value, r#"a "quoted" word"#);
    }

    #[test]
    fn quoted_values_take_go_escapes() {
        let m = Matcher::parse(r#"summary="tab\there \x41 \u00e9 \"q\"""#).unwrap();
        assert_eq!(m.value, "tab\there A é \"q\"");
        // Go refuses `\'` inside double quotes; so does the matcher.
        assert!(Matcher::parse(r#"a="it\'s""#).is_err());
        assert!(Matcher::parse(r#"a="open"#).is_err());
    }

    #[test]
    fn regexes_are_anchored() {
        let m = Matcher::parse(r#"severity=~"P1""#).unwrap();
        assert!(!m.matches(&ls(&[("severity", "P10")])));
    }

    #[test]
    fn bad_matchers_are_named() {
        assert_eq!(
            Matcher::parse("severity").unwrap_err().0,
            r#""severity" is not a matcher (name=value, !=, =~ or !~)"#
        );
        assert!(Matcher::parse(r#"x=~"(""#)
            .unwrap_err()
            .0
            .starts_with(r#""x=~\"(\"": invalid regular expression "(""#));
        assert!(Matcher::parse(r#"x="abc"#)
            .unwrap_err()
            .0
            .contains("unbalanced"));
    }

    #[test]
    fn api_round_trip() {
        let m = Matcher::parse(r#"severity!~"P2|P3""#).unwrap();
        let back = Matcher::from_api(&m.to_api()).unwrap();
        assert_eq!(back.to_string(), m.to_string());
        assert_eq!(back.op, Op::NotRe);
    }
}
