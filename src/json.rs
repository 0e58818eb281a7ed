//! JSON as the security-relevant documents need it: duplicate member names refused at every depth
//! (RFC 8259 §4 leaves them to the parser, and "last one wins" in one parser but "first one wins" in
//! another is how a differential becomes an exploit — an `issuer` or `active` given twice).
//!
//! Tokens, token responses, metadata, JWKS, introspection and registration answers all parse here.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The message the visitor fails with, recognised by [`parse`].
const DUPLICATE: &str = "duplicate member";

/// Why a document could not be parsed.
#[derive(Debug)]
pub(crate) enum Invalid {
    /// An object repeats a member name (at any depth).
    Duplicate,
    /// Not JSON (or not the expected shape); `line`/`column` point at the problem.
    Syntax { line: usize, column: usize },
}

/// Parses `bytes` as one JSON value, refusing duplicate member names at any depth.
///
/// The text is checked as UTF-8 once, up front, so that the parser need not check each string again.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, Invalid> {
    let text = std::str::from_utf8(bytes).map_err(|e| position(bytes, e.valid_up_to()))?;
    read(text, UniqueValue)
}

/// Reads `text` as one JSON value with `seed` — [`UniqueValue`], or a reader of its own that refuses
/// duplicate names with [`duplicate`] and checks what it skips with [`Checked`].
pub(crate) fn read<'de, S: DeserializeSeed<'de>>(
    text: &'de str,
    seed: S,
) -> Result<S::Value, Invalid> {
    let mut de = serde_json::Deserializer::from_str(text);
    seed.deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| classify(&e))
}

/// The error a reader fails with on a repeated member name (told apart by [`read`]).
pub(crate) fn duplicate<E: de::Error>() -> E {
    E::custom(DUPLICATE)
}

/// Whether `names` (an object's member names, decoded) hold a repeat; sorts them to find out
/// (`O(n log n)`, however many members a hostile document has).
pub(crate) fn repeats(names: &mut [Name<'_>]) -> bool {
    names.sort_unstable();
    names.windows(2).any(|pair| pair[0] == pair[1])
}

/// The line and column (both from 1, as serde_json counts them) of byte `at`.
fn position(bytes: &[u8], at: usize) -> Invalid {
    let before = &bytes[..at.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    Invalid::Syntax {
        line: 1 + before.iter().filter(|b| **b == b'\n').count(),
        column: 1 + before.len() - line_start,
    }
}

/// Parses `text` as a JSON object, refusing duplicate member names at any depth.
pub(crate) fn parse_object(text: &str) -> Result<Map<String, Value>, Invalid> {
    match read(text, UniqueValue)? {
        Value::Object(map) => Ok(map),
        _ => Err(Invalid::Syntax { line: 1, column: 1 }),
    }
}

fn classify(e: &serde_json::Error) -> Invalid {
    if e.to_string().starts_with(DUPLICATE) {
        Invalid::Duplicate
    } else {
        Invalid::Syntax {
            line: e.line(),
            column: e.column(),
        }
    }
}

/// A `Value` whose objects, at every depth, have unique member names.
pub(crate) struct UniqueValue;

impl<'de> DeserializeSeed<'de> for UniqueValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = access.next_element_seed(UniqueValue)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        // Members are gathered, sorted by name so that a repeat sits next to its twin, and the map is
        // built from the sorted run in one pass (no search per member). An empty object allocates
        // nothing; others start with room for a typical token's claims.
        let Some(first) = access.next_key::<String>()? else {
            return Ok(Value::Object(Map::new()));
        };
        let mut members: Vec<(String, Value)> = Vec::with_capacity(16);
        members.push((first, access.next_value_seed(UniqueValue)?));
        while let Some(key) = access.next_key::<String>()? {
            members.push((key, access.next_value_seed(UniqueValue)?));
        }
        members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if members.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return Err(duplicate());
        }
        let map: Map<String, Value> = members.into_iter().collect();
        Ok(Value::Object(map))
    }
}

/// A member name, decoded: borrowed from the text unless it had escapes (serde's own `Cow<str>`
/// always copies).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Name<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A value checked as [`UniqueValue`] checks it — the same syntax, numbers and nesting limit, unique
/// member names at every depth — and not kept: nothing is allocated but the names of an object
/// with members (to find repeats).
pub(crate) struct Checked;

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // `deserialize_any`, not `deserialize_ignored_any`: serde_json skips ignored values more
        // leniently (an out-of-range number passes), and this must accept exactly what `UniqueValue`
        // accepts.
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        while access.next_element_seed(Checked)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let mut names = Vec::new();
        while let Some(name) = access.next_key::<Name<'de>>()? {
            access.next_value_seed(Checked)?;
            names.push(name);
        }
        if repeats(&mut names) {
            return Err(duplicate());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_at_every_depth_and_everything_else_parses_as_serde_json_does() {
        for dup in [
            r#"{"issuer":"a","issuer":"b"}"#,
            r#"{"active":false,"x":1,"active":true}"#,
            r#"{"keys":[{"kid":"a","kid":"b"}]}"#,
            r#"{"cnf":{"jkt":"a","jkt":"b"}}"#,
            // Escapes do not hide a repeat: the names are compared decoded.
            r#"{"iss":"a","\u0069ss":"b"}"#,
        ] {
            assert!(
                matches!(parse(dup.as_bytes()), Err(Invalid::Duplicate)),
                "{dup}"
            );
        }
        let ok = r#"{"a":[1,-2,3.5,true,null,"s",{"b":{"c":[]}}],"b":{"a":1}}"#;
        assert_eq!(
            parse(ok.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(ok).unwrap()
        );
        assert!(matches!(
            parse(b"{\"a\":1} trailing"),
            Err(Invalid::Syntax { .. })
        ));
        assert!(matches!(parse(b"{\"a\":"), Err(Invalid::Syntax { .. })));
        assert!(matches!(parse_object("[1]"), Err(Invalid::Syntax { .. })));
        assert_eq!(
            parse(b"18446744073709551615").unwrap(),
            Value::from(u64::MAX)
        );
        let empties = r#"{"a":{},"b":[{},{"c":{}}],"d":{"e":{}}}"#;
        assert_eq!(
            parse(empties.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(empties).unwrap()
        );
        assert!(matches!(
            parse(br#"{"a":{},"a":{}}"#),
            Err(Invalid::Duplicate)
        ));
        // Members come out in the map's order whatever order they came in.
        let shuffled = parse(br#"{"z":1,"a":{"y":2,"b":3},"m":[{"k":1,"c":2}]}"#).unwrap();
        assert_eq!(
            shuffled.to_string(),
            r#"{"a":{"b":3,"y":2},"m":[{"c":2,"k":1}],"z":1}"#
        );
    }

    /// Text that is not UTF-8 is refused up front, at the position serde_json would name.
    #[test]
    fn invalid_utf8_is_a_syntax_error_at_its_position() {
        for (bytes, line, column) in [
            (&b"\xff"[..], 1, 1),
            (&b"{\"a\":\"\xc3\"}"[..], 1, 7),
            (&b"{\n \"a\":\n  \"ok\xe2\x82\"}"[..], 3, 6),
        ] {
            match parse(bytes) {
                Err(Invalid::Syntax { line: l, column: c }) => {
                    assert_eq!((l, c), (line, column), "{bytes:?}")
                }
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
        assert_eq!(parse("{\"é\":\"ü\"}".as_bytes()).unwrap()["é"], "ü");
    }
}
