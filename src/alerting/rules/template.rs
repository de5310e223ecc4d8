//! The part of Go's text/template that Prometheus rule files use in labels and annotations:
//! `{{ $labels.x }}`, `{{ $value | humanize }}`, `{{ printf "%.1f" $value }}`, …
//!
//! A template is parsed when its rule loads; anything outside this subset (`if`, `range`,
//! `query`, …) is an error naming the construct, so it never surprises at render time.

use crate::promql::gofmt::{
    go_e, go_g, humanize, humanize1024, humanize_duration, humanize_timestamp,
};
use crate::promql::LabelSet;

crate::message_error! {
    /// A template that does not parse, or fails to render (the text says where).
    TemplateError
}

#[derive(Clone, Debug, PartialEq)]
enum Operand {
    /// `$labels.name`, `.Labels.name`
    Label(String),
    /// `$externalLabels.name`
    ExternalLabel(String),
    /// `$labels` whole: Go prints a map as `map[k:v k2:v2]`, keys sorted.
    AllLabels,
    /// `$externalLabels` whole.
    AllExternalLabels,
    Value,
    ExternalUrl,
    Str(String),
    Num(f64),
}

#[derive(Clone, Debug, PartialEq)]
struct Command {
    func: Option<String>,
    args: Vec<Operand>,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Text(String),
    Action(Vec<Command>),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    source: String,
    nodes: Vec<Node>,
}

/// What a template sees: the alert's sample labels and value.
pub struct Data<'a> {
    /// The alert's labels (`$labels`).
    pub labels: &'a LabelSet,
    /// The external labels (`$externalLabels`).
    pub external_labels: &'a LabelSet,
    /// `$externalURL`.
    pub external_url: &'a str,
    /// `$value`.
    pub value: f64,
}

const FUNCS: &[&str] = &[
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "printf",
    "toUpper",
    "toLower",
    "title",
    "reReplaceAll",
    "stripPort",
    "index",
];

impl Template {
    /// Parses a template; constructs centinela cannot render are refused here.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let mut nodes = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find("{{") {
            let mut text = rest[..open].to_owned();
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| TemplateError::from("unclosed action: missing }}"))?;
            let mut inner = &after[..close];
            rest = &after[close + 2..];
            if let Some(stripped) = inner.strip_prefix('-') {
                if stripped.starts_with([' ', '\t', '\n']) {
                    text.truncate(text.trim_end().len());
                    inner = stripped;
                }
            }
            let mut trim_right = false;
            if let Some(stripped) = inner.strip_suffix('-') {
                if stripped.ends_with([' ', '\t', '\n']) {
                    trim_right = true;
                    inner = stripped;
                }
            }
            if !text.is_empty() {
                nodes.push(Node::Text(text));
            }
            let inner = inner.trim();
            if !(inner.starts_with("/*") && inner.ends_with("*/")) {
                nodes.push(Node::Action(parse_pipeline(inner)?));
            }
            if trim_right {
                rest = rest.trim_start();
            }
        }
        if !rest.is_empty() {
            nodes.push(Node::Text(rest.to_owned()));
        }
        Ok(Self {
            source: source.to_owned(),
            nodes,
        })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders the template; on a runtime problem (`humanize` of a non-number, a bad
    /// `printf` verb) returns the error and the caller keeps the raw text.
    pub fn render(&self, data: &Data<'_>) -> Result<String, TemplateError> {
        let mut out = String::new();
        for node in &self.nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Action(pipeline) => {
                    let mut prev: Option<Val> = None;
                    for cmd in pipeline {
                        let mut args: Vec<Val> =
                            cmd.args.iter().map(|a| resolve(a, data)).collect();
                        if let Some(p) = prev.take() {
                            args.push(p);
                        }
                        prev = Some(match &cmd.func {
                            None => args.pop().ok_or(TemplateError::from("empty command"))?,
                            Some(f) => call(f, args)?,
                        });
                    }
                    if let Some(v) = prev {
                        out.push_str(&v.to_text());
                    }
                }
            }
        }
        Ok(out)
    }

    /// Renders, falling back to the template's own text so nothing is ever dropped.
    pub fn render_or_raw(&self, data: &Data<'_>) -> String {
        self.render(data).unwrap_or_else(|_| self.source.clone())
    }
}

#[derive(Clone, Debug)]
enum Val {
    Str(String),
    Num(f64),
}

impl Val {
    fn to_text(&self) -> String {
        match self {
            Self::Str(s) => s.clone(),
            Self::Num(n) => go_g(*n, None),
        }
    }

    fn to_f64(&self) -> Result<f64, TemplateError> {
        match self {
            Self::Num(n) => Ok(*n),
            Self::Str(s) => s
                .trim()
                .parse()
                .map_err(|_| TemplateError::from(format!("cannot convert {s:?} to a number"))),
        }
    }
}

fn resolve(op: &Operand, data: &Data<'_>) -> Val {
    match op {
        Operand::Label(l) => Val::Str(data.labels.value(l).to_owned()),
        Operand::ExternalLabel(l) => Val::Str(data.external_labels.value(l).to_owned()),
        Operand::AllLabels => Val::Str(go_map(data.labels)),
        Operand::AllExternalLabels => Val::Str(go_map(data.external_labels)),
        Operand::Value => Val::Num(data.value),
        Operand::ExternalUrl => Val::Str(data.external_url.to_owned()),
        Operand::Str(s) => Val::Str(s.clone()),
        Operand::Num(n) => Val::Num(*n),
    }
}

/// A label set as Go's `fmt` prints a `map[string]string`.
fn go_map(labels: &LabelSet) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("map[{}]", pairs.join(" "))
}

fn parse_pipeline(src: &str) -> Result<Vec<Command>, TemplateError> {
    let tokens = tokenize(src)?;
    let Some(first) = tokens.first() else {
        return Err(TemplateError::from("empty action {{ }}"));
    };
    if let Some(kw) = [
        "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
    ]
    .iter()
    .find(|k| first == *k)
    {
        return Err(TemplateError::from(format!(
            "the {kw:?} action is not supported in centinela's templates"
        )));
    }
    if tokens.iter().any(|t| t == ":=" || t == "=") {
        return Err(TemplateError::from(
            "variable assignment is not supported in centinela's templates",
        ));
    }
    let mut pipeline = Vec::new();
    for part in tokens.split(|t| t == "|") {
        let Some((head, rest)) = part.split_first() else {
            return Err(TemplateError::from("empty command in pipeline"));
        };
        let (func, args) = if is_ident(head) {
            if !FUNCS.contains(&head.as_str()) {
                return Err(TemplateError::from(format!(
                    "function {head:?} is not supported in centinela's templates"
                )));
            }
            (Some(head.clone()), rest)
        } else {
            (None, part)
        };
        if func.is_none() && args.len() != 1 {
            return Err(TemplateError::from(format!(
                "cannot evaluate {:?}: expected one operand",
                part.join(" ")
            )));
        }
        let args = args
            .iter()
            .map(|a| operand(a))
            .collect::<Result<Vec<_>, _>>()?;
        pipeline.push(Command { func, args });
    }
    Ok(pipeline)
}

fn is_ident(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

fn operand(tok: &str) -> Result<Operand, TemplateError> {
    if let Some(s) = tok.strip_prefix('"') {
        return unquote(s).map(Operand::Str);
    }
    if let Some(s) = tok.strip_prefix('`') {
        return Ok(Operand::Str(s.trim_end_matches('`').to_owned()));
    }
    if let Ok(n) = tok.parse::<f64>() {
        return Ok(Operand::Num(n));
    }
    let path: Vec<&str> = tok.split('.').collect();
    match path.as_slice() {
        ["$value"] | ["", "Value"] => Ok(Operand::Value),
        ["$externalURL"] | ["", "ExternalURL"] => Ok(Operand::ExternalUrl),
        ["$labels", name] | ["", "Labels", name] => Ok(Operand::Label((*name).to_owned())),
        ["$labels"] | ["", "Labels"] => Ok(Operand::AllLabels),
        ["$externalLabels"] | ["", "ExternalLabels"] => Ok(Operand::AllExternalLabels),
        ["$externalLabels", name] | ["", "ExternalLabels", name] => Ok(Operand::ExternalLabel((*name).to_owned())),
        _ => Err(TemplateError::from(format!("cannot evaluate {tok:?} (supported: $labels.NAME, $value, $externalLabels.NAME, $externalURL, strings, numbers)"))),
    }
}

fn unquote(s: &str) -> Result<String, TemplateError> {
    let body = s
        .strip_suffix('"')
        .ok_or(TemplateError::from("unterminated string"))?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(c @ ('"' | '\\')) => out.push(c),
                other => {
                    return Err(TemplateError::from(format!(
                        "unsupported escape \\{}",
                        other.unwrap_or(' ')
                    )))
                }
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn tokenize(src: &str) -> Result<Vec<String>, TemplateError> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '|' {
            tokens.push("|".into());
            i += 1;
        } else if c == '(' || c == ')' {
            return Err(
                "parenthesised pipelines are not supported in centinela's templates".into(),
            );
        } else if c == '"' || c == '`' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != c {
                if c == '"' && chars[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            if j >= chars.len() {
                return Err(TemplateError::from("unterminated string"));
            }
            tokens.push(chars[i..=j].iter().collect());
            i = j + 1;
        } else {
            let mut j = i;
            while j < chars.len()
                && !chars[j].is_whitespace()
                && chars[j] != '|'
                && chars[j] != '('
                && chars[j] != ')'
            {
                j += 1;
            }
            tokens.push(chars[i..j].iter().collect());
            i = j;
        }
    }
    Ok(tokens)
}

fn call(func: &str, args: Vec<Val>) -> Result<Val, TemplateError> {
    let one = |args: &[Val]| -> Result<f64, TemplateError> {
        match args {
            [v] => v.to_f64(),
            _ => Err(TemplateError::from(format!("{func} takes one argument"))),
        }
    };
    let text = |args: &[Val]| -> Result<String, TemplateError> {
        match args {
            [v] => Ok(v.to_text()),
            _ => Err(TemplateError::from(format!("{func} takes one argument"))),
        }
    };
    Ok(Val::Str(match func {
        "humanize" => humanize(one(&args)?),
        "humanize1024" => humanize1024(one(&args)?),
        "humanizeDuration" => humanize_duration(one(&args)?),
        "humanizePercentage" => format!("{}%", go_g(one(&args)? * 100.0, Some(4))),
        "humanizeTimestamp" => humanize_timestamp(one(&args)?),
        "toUpper" => text(&args)?.to_uppercase(),
        "toLower" => text(&args)?.to_lowercase(),
        "title" => title(&text(&args)?),
        "stripPort" => {
            let s = text(&args)?;
            match s.rsplit_once(':') {
                Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
                _ => s,
            }
        }
        "reReplaceAll" => match args.as_slice() {
            [p, r, t] => {
                let re = regex::Regex::new(&p.to_text())
                    .map_err(|e| TemplateError::from(format!("reReplaceAll: {e}")))?;
                re.replace_all(&t.to_text(), r.to_text().as_str())
                    .into_owned()
            }
            _ => return Err(TemplateError::from("reReplaceAll takes three arguments")),
        },
        "index" => {
            return Err(TemplateError::from(
                "index is only supported as $labels.NAME",
            ))
        }
        "printf" => {
            let mut it = args.into_iter();
            let format = it
                .next()
                .ok_or(TemplateError::from("printf needs a format"))?
                .to_text();
            printf(&format, it.collect())?
        }
        other => {
            return Err(TemplateError::from(format!(
                "function {other:?} is not supported"
            )))
        }
    }))
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut boundary = true;
    for c in s.chars() {
        if boundary && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        boundary = !c.is_alphanumeric();
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%s %v %d %f %g %e %%` with width-less
/// precision (`%.2f`).
fn printf(format: &str, args: Vec<Val>) -> Result<String, TemplateError> {
    let mut out = String::new();
    let mut args = args.into_iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            precision = Some(digits.parse::<usize>().unwrap_or(0));
        }
        let verb = chars
            .next()
            .ok_or(TemplateError::from("printf: format ends with %"))?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = args
            .next()
            .ok_or_else(|| TemplateError::from(format!("printf: missing argument for %{verb}")))?;
        match verb {
            's' | 'v' => out.push_str(&arg.to_text()),
            'd' => match arg {
                Val::Num(n) if n.fract() == 0.0 => {
                    out += &format!("{n:.0}");
                }
                other => {
                    return Err(TemplateError::from(format!(
                        "printf: %d of {}",
                        other.to_text()
                    )))
                }
            },
            'f' => {
                out += &format!("{:.*}", precision.unwrap_or(6), arg.to_f64()?);
            }
            'g' => out.push_str(&go_g(arg.to_f64()?, precision)),
            'e' => out.push_str(&go_e(arg.to_f64()?, precision.unwrap_or(6))),
            'q' => {
                out += &format!("{:?}", arg.to_text());
            }
            other => {
                return Err(TemplateError::from(format!(
                    "printf: verb %{other} is not supported"
                )))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str, value: f64) -> String {
        let labels = LabelSet::new([("relname".to_owned(), "orders".to_owned())]);
        let ext = LabelSet::default();
        Template::parse(src)
            .expect("parses")
            .render(&Data {
                labels: &labels,
                external_labels: &ext,
                external_url: "",
                value,
            })
            .expect("renders")
    }

    #[test]
    fn renders_rule_file_forms() {
        assert_eq!(render("{{ 0.1234 | humanizePercentage }}", 0.0), "12.34%");
        assert_eq!(
            render("{{ $labels.relname }} has {{ $value }}", 42.0),
            "orders has 42"
        );
        assert_eq!(
            render("{{ .Labels.relname }}={{ .Value | humanize }}", 1500.0),
            "orders=1.5k"
        );
        assert_eq!(render("{{ humanize $value }}", 2e9), "2G");
        assert_eq!(render(r#"{{ printf "%.2f" $value }}%"#, 12.345_6), "12.35%");
        assert_eq!(render("a {{- $labels.missing -}} b", 0.0), "ab");
        assert_eq!(render("{{/* comment */}}x", 0.0), "x");
    }

    #[test]
    fn unsupported_constructs_fail_at_parse_time() {
        for (src, needle) in [
            ("{{ if $value }}x{{ end }}", "\"if\""),
            ("{{ query \"up\" }}", "\"query\""),
            ("{{ $labels.x ", "unclosed"),
            ("{{ $foo }}", "$foo"),
        ] {
            let e = Template::parse(src).expect_err(src);
            assert!(e.0.contains(needle), "{src}: {e}");
        }
        // A runtime problem is reported, and the raw text is the fallback.
        let t = Template::parse("{{ \"abc\" | humanize }}").expect("parses");
        let ls = LabelSet::default();
        let data = Data {
            labels: &ls,
            external_labels: &ls,
            external_url: "",
            value: 0.0,
        };
        assert!(t.render(&data).is_err());
        assert_eq!(t.render_or_raw(&data), "{{ \"abc\" | humanize }}");
    }
}
