//! Parses `{:?}` output into a [`Node`] tree and diffs two trees, so that a gregor value and a
//! kafka-protocol value can be compared field by field without either knowing the other's types.
//!
//! Normalization: struct type names are kept (for the rename table) but ignored by [`diff`];
//! newtypes such as `GroupId("x")` or `UnknownTaggedFields([..])` become their inner value;
//! `Some(x)` stays wrapped and `None` is an atom; strings and byte strings are unescaped;
//! numbers, bools, UUIDs and unit variants stay as their literal text.

/// A value parsed from Debug output.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A braced struct: its type name and its fields in declaration order.
    Struct(String, Vec<(String, Node)>),
    /// A list, a tuple, or a tuple struct with several fields.
    List(Vec<Node>),
    /// A map, in its Debug order.
    Map(Vec<(Node, Node)>),
    /// `Some(x)`.
    Some(Box<Node>),
    /// A string literal, unescaped.
    Str(String),
    /// A byte-string literal (`b"..."`), unescaped.
    Bytes(Vec<u8>),
    /// Any other token: a number, bool, UUID, `None` or unit variant, as written.
    Atom(String),
}

/// Parses one value; the whole input must be consumed.
pub fn parse(s: &str) -> Result<Node, String> {
    let mut p = Parser {
        c: s.chars().collect(),
        i: 0,
    };
    let node = p.value()?;
    p.ws();
    match p.peek() {
        None => Ok(node),
        Some(_) => Err(p.err("trailing input")),
    }
}

struct Parser {
    c: Vec<char>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }
    fn ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }
    fn err(&self, what: &str) -> String {
        let at: String = self.c[self.i.min(self.c.len())..].iter().take(30).collect();
        format!("debug parse: {what} at {} (`{at}`)", self.i)
    }
    fn eat(&mut self, ch: char) -> Result<(), String> {
        self.ws();
        if self.peek() == Some(ch) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected `{ch}`")))
        }
    }
    /// Skips the opening bracket and collects `item`s separated by `,` up to `close`.
    fn seq<T>(
        &mut self,
        close: char,
        mut item: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok(out);
            }
            out.push(item(self)?);
            self.ws();
            match self.peek() {
                Some(',') => self.i += 1,
                Some(c) if c == close => {}
                _ => return Err(self.err(&format!("expected `,` or `{close}`"))),
            }
        }
    }
    fn word(&mut self) -> String {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || "-+._".contains(c))
        {
            self.i += 1;
        }
        self.c[start..self.i].iter().collect()
    }
    fn value(&mut self) -> Result<Node, String> {
        self.ws();
        match self.peek() {
            Some('"') => Ok(Node::Str(
                String::from_utf8(self.quoted()?).map_err(|e| e.to_string())?,
            )),
            Some('b') if self.c.get(self.i + 1) == Some(&'"') => {
                self.i += 1;
                Ok(Node::Bytes(self.quoted()?))
            }
            Some('[') => Ok(Node::List(self.seq(']', Self::value)?)),
            Some('(') => Ok(Node::List(self.seq(')', Self::value)?)),
            Some('{') => Ok(Node::Map(self.seq('}', |p| {
                let k = p.value()?;
                p.eat(':')?;
                Ok((k, p.value()?))
            })?)),
            _ => self.named(),
        }
    }
    /// A word, possibly the name of a tuple struct `Name(..)` or a braced struct `Name { .. }`.
    fn named(&mut self) -> Result<Node, String> {
        let name = self.word();
        if name.is_empty() {
            return Err(self.err("expected a value"));
        }
        if self.peek() == Some('(') {
            let mut items = self.seq(')', Self::value)?;
            return Ok(match (name.as_str(), items.len()) {
                ("Some", 1) => Node::Some(Box::new(items.remove(0))),
                (_, 1) => items.remove(0),
                _ => Node::List(items),
            });
        }
        let save = self.i;
        self.ws();
        if self.peek() != Some('{') || !name.starts_with(|c: char| c.is_alphabetic()) {
            self.i = save;
            return Ok(Node::Atom(name));
        }
        let fields = self.seq('}', |p| {
            p.ws();
            let field = p.word();
            if field.is_empty() {
                return Err(p.err("expected a field name"));
            }
            p.eat(':')?;
            Ok((field, p.value()?))
        })?;
        Ok(Node::Struct(name, fields))
    }
    /// Reads a quoted literal starting at `"`, returning its unescaped bytes (UTF-8 for `str`).
    fn quoted(&mut self) -> Result<Vec<u8>, String> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err("unterminated literal"));
            };
            self.i += 1;
            let c = match c {
                '"' => return Ok(out),
                '\\' => {
                    let e = self.peek().ok_or_else(|| self.err("dangling escape"))?;
                    self.i += 1;
                    match e {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        '0' => '\0',
                        'x' => {
                            let hex: String = self
                                .c
                                .get(self.i..self.i + 2)
                                .unwrap_or(&[])
                                .iter()
                                .collect();
                            self.i += 2;
                            out.push(
                                u8::from_str_radix(&hex, 16).map_err(|_| self.err("bad \\x"))?,
                            );
                            continue;
                        }
                        'u' => {
                            self.eat('{')?;
                            let hex = self.word();
                            self.eat('}')?;
                            u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.err("bad \\u"))?
                        }
                        other => other, // `\\`, `\"`, `\'`
                    }
                }
                c => c,
            };
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        }
    }
}

/// Compares two trees, ignoring struct type names; the error names the first differing path.
pub fn diff(a: &Node, b: &Node, path: &str) -> Result<(), String> {
    let fail = |what: String| Err(format!("{path}: {what}"));
    match (a, b) {
        (Node::Struct(_, fa), Node::Struct(_, fb)) => {
            let (na, nb): (Vec<_>, Vec<_>) = (
                fa.iter().map(|f| &f.0).collect(),
                fb.iter().map(|f| &f.0).collect(),
            );
            if na != nb {
                return fail(format!(
                    "field names differ:\n  gregor: {na:?}\n  oracle: {nb:?}"
                ));
            }
            fa.iter()
                .zip(fb)
                .try_for_each(|((n, x), (_, y))| diff(x, y, &format!("{path}.{n}")))
        }
        (Node::List(xa), Node::List(xb)) if xa.len() == xb.len() => (xa.iter().zip(xb).enumerate())
            .try_for_each(|(i, (x, y))| diff(x, y, &format!("{path}[{i}]"))),
        (Node::Map(xa), Node::Map(xb)) if xa.len() == xb.len() => {
            xa.iter().zip(xb).try_for_each(|((ka, va), (kb, vb))| {
                diff(ka, kb, &format!("{path}{{key}}"))?;
                diff(va, vb, &format!("{path}{{{ka:?}}}"))
            })
        }
        (Node::Some(x), Node::Some(y)) => diff(x, y, path),
        _ if a == b => Ok(()),
        _ => fail(format!("gregor {a:?} != oracle {b:?}")),
    }
}
