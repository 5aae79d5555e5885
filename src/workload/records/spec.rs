//! The record spec (`--record`): its syntax, the parser, and the errors that point at a
//! mistake. A spec lists bins separated by commas; each bin is `[NAME=][N*]VALUE`:
//!
//! | VALUE          | what the bin holds                                        |
//! |----------------|-----------------------------------------------------------|
//! | `I`            | a 64-bit integer                                          |
//! | `F` (or `D`)   | a 64-bit float                                            |
//! | `BOOL`         | a boolean                                                 |
//! | `S<n>`         | a string of n ASCII bytes                                 |
//! | `B<n>`         | n bytes (a blob)                                          |
//! | `[<n>*VALUE]`  | a list of n values of one type                            |
//! | `[VALUE,…]`    | a list of these values, in this order                     |
//! | `{<n>*KEY:VALUE}` | a map of n entries; KEY is `I` or `S<n>`               |
//!
//! `N*` repeats a bin N times (`64*F`: 64 float bins). Bins without a name are called `b0`,
//! `b1`, … by position; a named repeated bin `f=64*F` gives `f0` … `f63`. Letters may be
//! lower case. Example: `id=I,name=S16,attrs={20*S8:I},recent=[10*I],blob=B4096`.

use serde::{Deserialize, Serialize};

/// Longest string or blob, in bytes (1 MiB, the server's default largest record).
pub const MAX_SIZE: u32 = 1 << 20;
/// Most entries in one list or map.
pub const MAX_ENTRIES: u32 = 100_000;
/// Most bins in a record (the server's limit on ops in one request).
pub const MAX_BINS: usize = 32_767;
/// Deepest nesting of lists and maps.
pub const MAX_DEPTH: usize = 8;
/// Longest bin name the server accepts.
pub const MAX_NAME: usize = 15;

/// What one bin (or one element of a list or map) holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueSpec {
    Int,
    Float,
    Bool,
    /// A string of this many ASCII bytes.
    Str(u32),
    /// This many bytes.
    Bytes(u32),
    /// A list of n values of one type.
    List(u32, Box<ValueSpec>),
    /// A list of these values in this order.
    Tuple(Vec<ValueSpec>),
    /// A map of n entries.
    Map(u32, KeySpec, Box<ValueSpec>),
}

/// The keys of a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeySpec {
    /// 0, 1, 2, …
    Int,
    /// Zero-padded decimal entry numbers of this many characters ("00", "01", …).
    Str(u32),
}

impl ValueSpec {
    /// A readable description: `int`, `string(8)`, `map(20 × string(8) → int)`.
    pub fn describe(&self) -> String {
        match self {
            ValueSpec::Int => "int".into(),
            ValueSpec::Float => "float".into(),
            ValueSpec::Bool => "bool".into(),
            ValueSpec::Str(n) => format!("string({n})"),
            ValueSpec::Bytes(n) => format!("bytes({n})"),
            ValueSpec::List(n, e) => format!("list({n} × {})", e.describe()),
            ValueSpec::Tuple(es) => {
                format!("list({})", es.iter().map(ValueSpec::describe).collect::<Vec<_>>().join(", "))
            }
            ValueSpec::Map(n, k, v) => format!("map({n} × {} → {})", k.describe(), v.describe()),
        }
    }
}

impl KeySpec {
    pub fn describe(&self) -> String {
        match self {
            KeySpec::Int => "int".into(),
            KeySpec::Str(n) => format!("string({n})"),
        }
    }
}

/// A parsed `--record`: the text given (or the shape's), the shape's name if one was named,
/// and the bins in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSpec {
    pub name: Option<String>,
    pub text: String,
    pub bins: Vec<(String, ValueSpec)>,
}

/// A spec that does not parse: what is wrong and where (a character offset into the spec).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {column} of the record spec)\n  {text}\n  {caret}^\n{hint}", column = .position + 1, caret = " ".repeat(self.caret_column()), hint = HINT)]
pub struct SpecError {
    pub position: usize,
    pub message: String,
    pub text: String,
}

const HINT: &str = "a record spec lists bins as [NAME=][N*]VALUE, VALUE one of I, F, BOOL, S<n>, B<n>, \
                    [<n>*VALUE], [VALUE,…], {<n>*KEY:VALUE}";

impl SpecError {
    fn caret_column(&self) -> usize {
        self.text.char_indices().take_while(|(i, _)| *i < self.position).count()
    }
}

impl RecordSpec {
    pub fn parse(text: &str) -> Result<RecordSpec, SpecError> {
        let mut p = Parser { text, at: 0 };
        let bins = p.record()?;
        Ok(RecordSpec { name: None, text: text.to_string(), bins })
    }

    pub fn named(mut self, name: &str) -> RecordSpec {
        self.name = Some(name.to_string());
        self
    }
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn error<T>(&self, at: usize, message: impl Into<String>) -> Result<T, SpecError> {
        Err(SpecError { position: at, message: message.into(), text: self.text.to_string() })
    }

    fn skip_spaces(&mut self) {
        while self.rest().starts_with(' ') {
            self.at += 1;
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_spaces();
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, what: &str) -> Result<(), SpecError> {
        if self.eat(c) {
            return Ok(());
        }
        let found = self.peek().map_or("the end".to_string(), |f| format!("{f:?}"));
        self.error(self.at, format!("expected {c:?} {what}, found {found}"))
    }

    fn number(&mut self) -> Option<(usize, u64)> {
        self.skip_spaces();
        let start = self.at;
        let digits = self.rest().bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        self.at += digits;
        Some((start, self.text[start..self.at].parse().unwrap_or(u64::MAX)))
    }

    fn record(&mut self) -> Result<Vec<(String, ValueSpec)>, SpecError> {
        let mut bins: Vec<(String, ValueSpec)> = Vec::new();
        let mut names: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        self.skip_spaces();
        if self.rest().is_empty() {
            return self.error(0, "the record spec is empty");
        }
        loop {
            self.skip_spaces();
            let item_at = self.at;
            let name = self.name()?;
            let times = self.repeat()?;
            let value = self.value(0)?;
            for k in 0..times {
                let bin = match &name {
                    Some(n) if times == 1 => n.clone(),
                    Some(n) => format!("{n}{k}"),
                    None => format!("b{}", bins.len()),
                };
                if bin.len() > MAX_NAME {
                    return self.error(item_at, format!("bin name {bin:?} is longer than {MAX_NAME} bytes"));
                }
                if names.insert(bin.clone(), item_at).is_some() {
                    return self.error(item_at, format!("bin {bin:?} is named twice"));
                }
                bins.push((bin, value.clone()));
                if bins.len() > MAX_BINS {
                    return self.error(item_at, format!("more than {MAX_BINS} bins"));
                }
            }
            self.skip_spaces();
            if self.rest().is_empty() {
                return Ok(bins);
            }
            self.expect(',', "between bins")?;
        }
    }

    /// `NAME=`, if the item starts with one.
    fn name(&mut self) -> Result<Option<String>, SpecError> {
        let start = self.at;
        let len = self.rest().bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-').count();
        let after = self.text[start + len..].trim_start_matches(' ');
        if len == 0 || !after.starts_with('=') {
            return Ok(None);
        }
        let name = &self.text[start..start + len];
        if name.as_bytes()[0].is_ascii_digit() {
            return self.error(start, format!("bin name {name:?} starts with a digit"));
        }
        self.at = self.text.len() - after.len() + 1;
        Ok(Some(name.to_string()))
    }

    /// `N*`, if present (1 otherwise).
    fn repeat(&mut self) -> Result<u64, SpecError> {
        let save = self.at;
        match self.number() {
            Some((at, n)) if self.eat('*') => {
                if n == 0 || n > MAX_BINS as u64 {
                    return self.error(at, format!("repeat a bin 1 to {MAX_BINS} times (got {n})"));
                }
                Ok(n)
            }
            _ => {
                self.at = save;
                Ok(1)
            }
        }
    }

    fn size(&mut self, what: &str, example: &str, max: u32) -> Result<u32, SpecError> {
        match self.number() {
            Some((at, n)) if n > u64::from(max) => self.error(at, format!("{what} of {n} is more than {max}")),
            Some((_, n)) => Ok(n as u32),
            None => self.error(self.at, format!("{what} needs a number, e.g. {example}")),
        }
    }

    fn value(&mut self, depth: usize) -> Result<ValueSpec, SpecError> {
        self.skip_spaces();
        let at = self.at;
        if depth > MAX_DEPTH {
            return self.error(at, format!("lists and maps nest at most {MAX_DEPTH} deep"));
        }
        let word = self.rest().bytes().take_while(u8::is_ascii_alphabetic).count();
        let upper = self.rest()[..word].to_ascii_uppercase();
        if upper == "BOOL" {
            self.at += 4;
            return Ok(ValueSpec::Bool);
        }
        let Some(c) = self.peek() else {
            return self.error(at, "expected a value (I, F, BOOL, S<n>, B<n>, [ or {), found the end");
        };
        self.at += c.len_utf8();
        match c.to_ascii_uppercase() {
            'I' => Ok(ValueSpec::Int),
            'F' | 'D' => Ok(ValueSpec::Float),
            'S' => Ok(ValueSpec::Str(self.size("a string", "S16", MAX_SIZE)?)),
            'B' => Ok(ValueSpec::Bytes(self.size("bytes", "B1024", MAX_SIZE)?)),
            '[' => self.list(at, depth),
            '{' => self.map(depth),
            _ => self.error(at, format!("expected a value (I, F, BOOL, S<n>, B<n>, [ or {{), found {c:?}")),
        }
    }

    fn list(&mut self, at: usize, depth: usize) -> Result<ValueSpec, SpecError> {
        let save = self.at;
        if let Some((n_at, n)) = self.number() {
            if self.eat('*') {
                if n > u64::from(MAX_ENTRIES) {
                    return self.error(n_at, format!("a list of {n} is more than {MAX_ENTRIES} entries"));
                }
                let element = self.value(depth + 1)?;
                self.expect(']', "to close the list")?;
                return Ok(ValueSpec::List(n as u32, Box::new(element)));
            }
            self.at = save;
        }
        if self.eat(']') {
            return self.error(at, "an empty list: give its entries, e.g. [10*I] or [I,S8]");
        }
        let mut items = vec![self.value(depth + 1)?];
        while self.eat(',') {
            items.push(self.value(depth + 1)?);
        }
        self.expect(']', "to close the list")?;
        Ok(ValueSpec::Tuple(items))
    }

    fn map(&mut self, depth: usize) -> Result<ValueSpec, SpecError> {
        let Some((n_at, n)) = self.number() else {
            return self.error(self.at, "a map needs its number of entries first, e.g. {20*S8:I}");
        };
        if n > u64::from(MAX_ENTRIES) {
            return self.error(n_at, format!("a map of {n} is more than {MAX_ENTRIES} entries"));
        }
        self.expect('*', "after the map's number of entries (e.g. {20*S8:I})")?;
        self.skip_spaces();
        let key_at = self.at;
        let key = match self.value(depth + 1)? {
            ValueSpec::Int => KeySpec::Int,
            ValueSpec::Str(len) => {
                // Keys are the zero-padded entry numbers: `len` digits must tell n entries apart.
                let room = 10u64.checked_pow(len).unwrap_or(u64::MAX);
                if room < n {
                    return self.error(
                        key_at,
                        format!("S{len} keys tell at most {room} entries apart, not {n}; make them longer"),
                    );
                }
                KeySpec::Str(len)
            }
            _ => return self.error(key_at, "map keys are I or S<n>"),
        };
        self.expect(':', "between the map's key and value types")?;
        let value = self.value(depth + 1)?;
        self.expect('}', "to close the map")?;
        Ok(ValueSpec::Map(n as u32, key, Box::new(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ValueSpec::*;

    fn bins(text: &str) -> Vec<(String, ValueSpec)> {
        RecordSpec::parse(text).unwrap_or_else(|e| panic!("{e}")).bins
    }

    #[test]
    fn scalars_names_and_repeats() {
        assert_eq!(
            bins("I, f ,d,bool,S10,b128"),
            vec![
                ("b0".into(), Int),
                ("b1".into(), Float),
                ("b2".into(), Float),
                ("b3".into(), Bool),
                ("b4".into(), Str(10)),
                ("b5".into(), Bytes(128))
            ]
        );
        let named = bins("id=I,f=3*F,2*S4");
        let names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["id", "f0", "f1", "f2", "b4", "b5"]);
        assert_eq!(named[5].1, Str(4));
    }

    #[test]
    fn lists_maps_and_nesting() {
        assert_eq!(bins("[16*F]")[0].1, List(16, Box::new(Float)));
        assert_eq!(bins("[I, S8 ,BOOL]")[0].1, Tuple(vec![Int, Str(8), Bool]));
        assert_eq!(bins("m={20*S8:I}")[0].1, Map(20, KeySpec::Str(8), Box::new(Int)));
        let nested = bins("x={3*I:[2*{2*S2:B4}]}");
        assert_eq!(
            nested[0].1,
            Map(3, KeySpec::Int, Box::new(List(2, Box::new(Map(2, KeySpec::Str(2), Box::new(Bytes(4)))))))
        );
        assert_eq!(nested[0].1.describe(), "map(3 × int → list(2 × map(2 × string(2) → bytes(4))))");
    }

    #[test]
    fn errors_point_at_the_mistake() {
        let at = |text: &str| RecordSpec::parse(text).unwrap_err();
        assert_eq!(at("I,X").position, 2);
        assert_eq!(at("I,S").position, 3);
        assert_eq!(at("I,[3*F").position, 6);
        assert_eq!(at("").position, 0);
        assert_eq!(at("I,").position, 2);
        assert_eq!(at("{20*S1:I}").position, 4, "S1 cannot tell 20 keys apart");
        assert_eq!(at("{2*F:I}").position, 3);
        assert_eq!(at("{I:I}").position, 1);
        assert_eq!(at("a=I,a=F").position, 4);
        assert_eq!(at("averyveryverylongname=I").position, 0);
        assert_eq!(at("I F").position, 2);
        assert_eq!(at("[]").position, 0);
        assert_eq!(at(&format!("S{}", MAX_SIZE + 1)).position, 1);
        assert_eq!(at(&"[1*".repeat(10)).position, 27);
        let e = at("i,s:32");
        let shown = e.to_string();
        assert!(shown.contains("a string needs a number") && shown.contains("at character 4"), "{shown}");
        assert!(shown.contains("\n  i,s:32\n     ^\n"), "the caret under the mistake: {shown}");
    }
}
