//! The module graph has no import circle at any depth, and no module imports one in a
//! higher layer than its own. The layer order is the `layers` block of
//! `docs/architecture.md`; `crate::`, `super::` and `self::` paths are read from `src/`,
//! outside `#[cfg(test)]` modules (tests may drive a later stage to check an earlier one).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file
        .strip_prefix(src)
        .expect("file under src/")
        .with_extension("");
    let mut parts: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The code without comments, string literals and `#[cfg(test)]` modules.
fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i += 2;
            while i + 1 < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i..].starts_with(b"#[cfg(test)]") {
            // Skip the item that follows: up to its matching closing brace or a `;`.
            i += "#[cfg(test)]".len();
            let mut depth = 0usize;
            while i < b.len() {
                match b[i] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    b';' if depth == 0 => {
                        i += 1;
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Absolute module paths named from `module` (`crate::a::b`, `super::x`, `use crate::{a, b}`).
fn targets(code: &str, module: &Module) -> Vec<Module> {
    let mut out = Vec::new();
    let text = code;
    let mut start = 0;
    while let Some(pos) = text[start..].find("::") {
        let at = start + pos;
        start = at + 2;
        // The head: `crate`, `super`, `self` (possibly `super::super`) just before `::`.
        let head_end = at;
        let head_start = text[..head_end]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map_or(0, |p| p + 1);
        let head = &text[head_start..head_end];
        if head.contains("::") || !["crate", "super", "self"].contains(&head) {
            continue;
        }
        let base: Module = match head {
            "crate" => Vec::new(),
            "super" => {
                let mut m = module.clone();
                m.pop();
                m
            }
            _ => module.clone(),
        };
        let mut rest = &text[start..];
        let mut base = base;
        if head == "self" && rest.starts_with('{') {
            // `use self::{…}` groups stay inside the module; nothing to record.
            continue;
        }
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let mut prefix = base.clone();
        prefix.extend(
            path.split("::")
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
        let after = &rest[path.len()..];
        let Some(group) = after.strip_prefix('{') else {
            out.push(prefix);
            continue;
        };
        // `use a::{b, c::d, self}`: one path per item (nested groups name their prefix).
        let end = group.find('}').unwrap_or(group.len());
        for item in group[..end].split(',') {
            let item = item.trim();
            let mut m = prefix.clone();
            if item != "self" {
                m.extend(
                    item.split("::")
                        .map(|p| p.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_')))
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned),
                );
            }
            out.push(m);
        }
    }
    out
}

/// Edges `from -> to` between modules cut to `depth` segments.
fn edges(depth: usize) -> BTreeMap<(String, String), BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: Vec<(PathBuf, Module)> = files
        .into_iter()
        .map(|f| {
            let m = module_of(&src, &f);
            (f, m)
        })
        .collect();
    let known: BTreeSet<String> = modules
        .iter()
        .filter(|(_, m)| !m.is_empty())
        .map(|(_, m)| m[..m.len().min(depth)].join("::"))
        .collect();
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (file, module) in &modules {
        if module.is_empty() {
            continue;
        }
        let from = module[..module.len().min(depth)].join("::");
        let text = std::fs::read_to_string(file).expect("source is readable");
        for target in targets(&code(&text), module) {
            let Some(to) = (1..=target.len().min(depth))
                .rev()
                .map(|d| target[..d].join("::"))
                .find(|t| known.contains(t))
            else {
                continue;
            };
            let nested =
                from.starts_with(&format!("{to}::")) || to.starts_with(&format!("{from}::"));
            if to != from && !nested {
                out.entry((from.clone(), to)).or_default().insert(
                    file.strip_prefix(&src)
                        .unwrap_or(file)
                        .display()
                        .to_string(),
                );
            }
        }
    }
    out
}

/// Modules that reach each other (Tarjan's strongly connected components, size > 1).
fn cycles(edges: &BTreeMap<(String, String), BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from).or_default().push(to);
        graph.entry(to).or_default();
    }
    // Reachability is enough at this size: a and b are in one cycle if each reaches the other.
    let reach = |start: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(v) = stack.pop() {
            for w in &graph[v] {
                if seen.insert((*w).to_owned()) {
                    stack.push(w);
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&str, BTreeSet<String>> = graph.keys().map(|v| (*v, reach(v))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for v in graph.keys() {
        let comp: Vec<String> = graph
            .keys()
            .filter(|w| reaches[v].contains(**w) && reaches[**w].contains(*v))
            .map(|w| (*w).to_owned())
            .collect();
        if comp.len() > 1 && !out.contains(&comp) {
            out.push(comp);
        }
    }
    out
}

/// The layer order: one layer per line of the `layers` block, highest first.
fn layer_order() -> BTreeMap<String, usize> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .expect("docs/architecture.md is readable");
    let block = doc
        .split("```layers\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("docs/architecture.md has a ```layers block");
    let mut rank = BTreeMap::new();
    for (i, line) in block.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        for m in line.split('#').next().unwrap_or("").split_whitespace() {
            rank.insert(m.to_owned(), i);
        }
    }
    rank
}

#[test]
fn no_import_circle_at_depths_1_to_3() {
    for depth in 1..=3 {
        let found = cycles(&edges(depth));
        assert!(
            found.is_empty(),
            "import circles at depth {depth}: {found:?}"
        );
    }
}

#[test]
fn no_module_imports_a_higher_layer() {
    let order = layer_order();
    let rank = |m: &str| {
        order.get(m).copied().or_else(|| {
            let (head, _) = m.split_once("::")?;
            order.get(&format!("{head}::*")).copied()
        })
    };
    let mut up = Vec::new();
    let mut unlisted = BTreeSet::new();
    for depth in 1..=2 {
        for ((from, to), files) in edges(depth) {
            for m in [&from, &to] {
                if rank(m).is_none() {
                    unlisted.insert(m.clone());
                }
            }
            if let (Some(f), Some(t)) = (rank(&from), rank(&to)) {
                if f > t {
                    up.push(format!("{from} -> {to} ({files:?})"));
                }
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "modules missing from the layers block: {unlisted:?}"
    );
    assert!(
        up.is_empty(),
        "imports against the layer order:\n{}",
        up.join("\n")
    );
}

#[test]
fn the_check_sees_a_planted_circle_and_an_up_edge() {
    let mut e = BTreeMap::new();
    e.insert(("a".to_owned(), "b".to_owned()), BTreeSet::new());
    e.insert(("b".to_owned(), "c".to_owned()), BTreeSet::new());
    assert!(cycles(&e).is_empty());
    e.insert(("c".to_owned(), "a".to_owned()), BTreeSet::new());
    assert_eq!(cycles(&e), [vec!["a", "b", "c"]]);
    let m: Module = vec!["alerting".into(), "routes".into()];
    let found = targets(
        &code("use super::model::{A, B};\nuse crate::config::{self, check::X};\n// crate::nope\nfn f() { crate::time::now_ms(); }\n#[cfg(test)]\nmod tests { use crate::app; }\n"),
        &m,
    );
    let found: Vec<String> = found.iter().map(|m| m.join("::")).collect();
    assert!(
        found.contains(&"alerting::model::A".to_owned()),
        "{found:?}"
    );
    assert!(found.contains(&"config::check::X".to_owned()), "{found:?}");
    assert!(found.contains(&"time::now_ms".to_owned()), "{found:?}");
    assert!(
        !found
            .iter()
            .any(|f| f.starts_with("nope") || f.starts_with("app")),
        "{found:?}"
    );
}
