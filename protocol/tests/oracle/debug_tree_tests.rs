//! Unit tests for the Debug parser and tree diff, on real `{:?}` output of tricky shapes.

use std::collections::BTreeMap;

use bytes::Bytes;
use gregor_protocol::primitives::{RawTaggedField, UnknownTaggedFields, Uuid};
use proptest::prelude::*;

use super::debug_tree::{Node, diff, parse};
use super::normalize_gregor;

fn atom(s: &str) -> Node {
    Node::Atom(s.to_owned())
}

fn strukt(name: &str, fields: Vec<(&str, Node)>) -> Node {
    Node::Struct(
        name.to_owned(),
        fields.into_iter().map(|(f, v)| (f.to_owned(), v)).collect(),
    )
}

// Fields of these fixtures are read only through `Debug`.
#[allow(dead_code)]
#[derive(Debug)]
struct Inner {
    x: f64,
    id: Uuid,
}

#[allow(dead_code)]
#[derive(Debug)]
struct Newtype(String);

#[allow(dead_code)]
#[derive(Debug)]
struct Outer {
    r#type: i8,
    name: Newtype,
    inner: Option<Inner>,
    none: Option<Inner>,
    empty: Vec<Inner>,
    list: Vec<i64>,
    map: BTreeMap<i32, Bytes>,
}

#[test]
fn nested_structs_options_and_empties() -> Result<(), String> {
    let v = Outer {
        r#type: -3,
        name: Newtype("g".into()),
        inner: Some(Inner {
            x: -1e-7,
            id: Uuid([0xab; 16]),
        }),
        none: None,
        empty: vec![],
        list: vec![1, -2],
        map: BTreeMap::from([(7, Bytes::from_static(b"\x00a"))]),
    };
    let inner = strukt(
        "Inner",
        vec![
            ("x", atom("-1e-7")),
            ("id", atom("abababab-abab-abab-abab-abababababab")),
        ],
    );
    let expected = strukt(
        "Outer",
        vec![
            ("type", atom("-3")),
            ("name", Node::Str("g".into())),
            ("inner", Node::Some(Box::new(inner))),
            ("none", atom("None")),
            ("empty", Node::List(vec![])),
            ("list", Node::List(vec![atom("1"), atom("-2")])),
            (
                "map",
                Node::Map(vec![(atom("7"), Node::Bytes(vec![0, b'a']))]),
            ),
        ],
    );
    assert_eq!(parse(&format!("{v:?}"))?, expected);
    // The pretty form parses to the same tree.
    assert_eq!(parse(&format!("{v:#?}"))?, expected);
    Ok(())
}

#[test]
fn escapes_in_strings_and_bytes() -> Result<(), String> {
    let s = "a\"b\\c\n\t\u{1}é'";
    assert_eq!(parse(&format!("{s:?}"))?, Node::Str(s.into()));
    assert_eq!(
        parse(r#"b"\x00\0\"\\\xff""#)?,
        Node::Bytes(vec![0, 0, b'"', b'\\', 0xff])
    );
    assert_eq!(parse(&format!("{:?}", Bytes::new()))?, Node::Bytes(vec![]));
    assert_eq!(
        parse(r#"Some("")"#)?,
        Node::Some(Box::new(Node::Str(String::new())))
    );
    Ok(())
}

#[test]
fn malformed_input_is_an_error() {
    for bad in [
        "",
        "Foo {",
        "[1, 2",
        "\"abc",
        "b\"\\x0",
        "Foo { : 1 }",
        "1 2",
        "{1 2}",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} should not parse");
    }
}

#[test]
fn unknown_tags_normalize_to_the_oracle_map() -> Result<(), String> {
    #[allow(dead_code)]
    #[derive(Debug)]
    struct Msg {
        unknown_tagged_fields: UnknownTaggedFields,
    }
    let ours = Msg {
        unknown_tagged_fields: UnknownTaggedFields(vec![RawTaggedField {
            tag: 10_001,
            data: Bytes::from_static(b"\x01"),
        }]),
    };
    #[allow(dead_code)]
    #[derive(Debug)]
    struct Theirs {
        unknown_tagged_fields: BTreeMap<i32, Bytes>,
    }
    let theirs = Theirs {
        unknown_tagged_fields: BTreeMap::from([(10_001, Bytes::from_static(b"\x01"))]),
    };
    let g = normalize_gregor(parse(&format!("{ours:?}"))?);
    diff(&g, &parse(&format!("{theirs:?}"))?, "")?;
    let empty = Msg {
        unknown_tagged_fields: UnknownTaggedFields::default(),
    };
    let g = normalize_gregor(parse(&format!("{empty:?}"))?);
    diff(&g, &parse("Theirs { unknown_tagged_fields: {} }")?, "")
}

#[test]
fn diff_ignores_type_names_and_catches_swaps_and_renames() -> Result<(), String> {
    let a = parse("A { x: 1, y: 2, l: [Some(B { s: \"q\" })] }")?;
    diff(
        &a,
        &parse("Z { x: 1, y: 2, l: [Some(Q { s: \"q\" })] }")?,
        "",
    )?;
    let swapped = diff(
        &a,
        &parse("A { x: 2, y: 1, l: [Some(B { s: \"q\" })] }")?,
        "",
    );
    assert!(swapped.is_err_and(|e| e.starts_with(".x:")));
    let deep = diff(
        &a,
        &parse("A { x: 1, y: 2, l: [Some(B { s: \"r\" })] }")?,
        "",
    );
    assert!(deep.is_err_and(|e| e.starts_with(".l[0].s:")));
    assert!(diff(&a, &parse("A { x: 1, yy: 2, l: [] }")?, "").is_err());
    assert!(diff(&a, &parse("A { x: 1, y: 2, l: [] }")?, "").is_err());
    assert!(diff(&parse("Some(1)")?, &atom("None"), "").is_err());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn any_string_round_trips(s in any::<String>()) {
        prop_assert_eq!(parse(&format!("{s:?}")), Ok(Node::Str(s)));
    }

    #[test]
    fn any_bytes_round_trip(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(parse(&format!("{:?}", Bytes::from(b.clone()))), Ok(Node::Bytes(b)));
    }
}
