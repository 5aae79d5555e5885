//! Named record shapes (`--record NAME`): the records most applications store, each written
//! as a record spec so it reads like one.

/// A named shape: its name, its spec, and what it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub name: &'static str,
    pub spec: &'static str,
    pub about: &'static str,
}

pub const SHAPES: &[Shape] = &[
    Shape {
        name: "feature-vector",
        spec: "f=64*F",
        about: "64 float bins, as an ML feature store serves them (f0 … f63)",
    },
    Shape {
        name: "profile",
        spec: "id=I,name=S24,score=F,active=BOOL,attrs={20*S8:I},recent=[10*I]",
        about: "a user profile: a few scalars, a 20-entry map and a 10-entry list",
    },
    Shape { name: "blob", spec: "blob=B4096", about: "one 4 KiB bytes bin (a serialized object, an image)" },
    Shape { name: "wide", spec: "i=50*I,s=50*S8", about: "100 small bins: 50 ints and 50 8-byte strings" },
];

pub fn lookup(name: &str) -> Option<&'static Shape> {
    SHAPES.iter().find(|s| s.name.eq_ignore_ascii_case(name.trim()))
}

pub fn names() -> Vec<&'static str> {
    SHAPES.iter().map(|s| s.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::records::spec::KeySpec;
    use crate::workload::records::{RecordSpec, ValueSpec};

    #[test]
    fn every_shape_parses_to_what_its_name_promises() {
        let parse = |n: &str| RecordSpec::parse(lookup(n).unwrap().spec).unwrap().bins;
        let fv = parse("feature-vector");
        assert_eq!(fv.len(), 64);
        assert!(fv.iter().all(|(_, v)| *v == ValueSpec::Float));
        assert_eq!((fv[0].0.as_str(), fv[63].0.as_str()), ("f0", "f63"));
        let profile = parse("profile");
        assert!(profile.iter().any(|(_, v)| *v == ValueSpec::Map(20, KeySpec::Str(8), Box::new(ValueSpec::Int))));
        assert!(profile.iter().any(|(_, v)| *v == ValueSpec::List(10, Box::new(ValueSpec::Int))));
        assert_eq!(parse("blob"), vec![("blob".to_string(), ValueSpec::Bytes(4096))]);
        assert_eq!(parse("wide").len(), 100);
        assert!(lookup("Profile").is_some() && lookup("nope").is_none());
        // No shape names the operate counter's bin.
        for s in SHAPES {
            assert!(parse(s.name).iter().all(|(n, _)| n != crate::workload::OPERATE_BIN), "{}", s.name);
        }
    }
}
