//! The files of `consumer/src/fetch/` depend on each other without a cycle: no two import each
//! other, directly or around a circle (DESIGN.md's module order). A file's dependencies are
//! the sibling modules its non-test code names (`super::x`, `crate::fetch::x`, including
//! grouped `use super::{x::A, y::B}`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Sibling module names `code` refers to.
fn references(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for prefix in ["super::", "crate::fetch::"] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            rest = &rest[at + prefix.len()..];
            // `super::{a::X, b}` names several; `super::a::X` one.
            let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                group[..end].split(',').collect()
            } else {
                vec![rest]
            };
            for name in names {
                let name: String = name
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if modules.contains(&name) {
                    found.insert(name);
                }
            }
        }
    }
    found
}

#[test]
fn the_fetch_modules_import_each_other_without_a_cycle() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/fetch");
    let mut sources = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("src/fetch") {
        let path = entry.expect("an entry").path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "mod" || name.ends_with("_tests") {
            continue;
        }
        let code = std::fs::read_to_string(&path).expect("a source file");
        // Unit tests may reach anything; only the code itself counts.
        let code = code
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .to_owned();
        sources.insert(name, code);
    }
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    assert!(modules.len() >= 10, "found {modules:?}");
    let graph: BTreeMap<String, BTreeSet<String>> = sources
        .iter()
        .map(|(name, code)| {
            let mut deps = references(code, &modules);
            deps.remove(name);
            (name.clone(), deps)
        })
        .collect();
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(at) = path.iter().position(|n| n == node) {
            panic!("import cycle: {} -> {node}", path[at..].join(" -> "));
        }
        path.push(node.to_owned());
        for next in &graph[node] {
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(node.to_owned());
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done);
    }
    // The graph is not empty: the engine reaches the broker loops through the core.
    assert!(graph["engine"].contains("broker"), "{graph:?}");
    assert!(graph["broker"].contains("core"), "{graph:?}");
}

#[test]
fn a_cycle_is_found() {
    let modules: BTreeSet<String> = ["a", "b"].iter().map(|s| (*s).to_owned()).collect();
    let refs = references(
        "use super::{a::X, b::Y};\nfn f() { super::b::g() }",
        &modules,
    );
    assert_eq!(refs.len(), 2);
}
