//! py-spy's speedscope output read back: the frames, and each thread's samples in the order
//! they were taken (which the folded format loses, and which tells the phase from the waits
//! around it).

use serde::Deserialize;

/// One frame as py-spy names it: a Python function and its file, or a native function and its
/// library (or source file, when the library has debug information).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub name: String,
    pub file: String,
}

impl Frame {
    #[cfg(test)]
    pub fn new(name: &str, file: &str) -> Frame {
        Frame { name: name.to_owned(), file: file.to_owned() }
    }

    /// A frame of Python code (a `.py` file, or code without one such as `<string>`).
    pub fn is_python(&self) -> bool {
        self.file.ends_with(".py") || (self.file.starts_with('<') && self.file.ends_with('>'))
    }

    /// The file's last part (`libc.so.6`, `selectmodule.c`) or, for Python code, its last two
    /// (`asyncio/base_events.py`); aerobench's own files as `python_shim/aerobench_shim.py`.
    pub fn short_file(&self) -> &str {
        if let Some(rest) = self.file.strip_prefix("<aerobench>/") {
            return rest;
        }
        let parts = if self.is_python() { 2 } else { 1 };
        let mut cut = self.file.len();
        for _ in 0..parts {
            match self.file[..cut].rfind(['/', '\\']) {
                Some(i) => cut = i,
                None => return &self.file,
            }
        }
        &self.file[cut + 1..]
    }

    /// `function (file)`, as the folded stacks and the report name it (one function, whatever
    /// line it was on; no `;`, the folded format's separator). Native code without symbols
    /// (py-spy names it by address) is one frame per library: `[libz.so.1]`.
    pub fn label(&self) -> String {
        if !self.is_python() && self.name.starts_with("0x") {
            return format!("[{}]", self.short_file()).replace(';', ",");
        }
        format!("{} ({})", self.name, self.short_file()).replace(';', ",")
    }
}

/// One recording: every frame, and each thread's samples (indices into `frames`, outermost
/// first) in the order they were taken.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampled {
    pub frames: Vec<Frame>,
    pub threads: Vec<Vec<Vec<usize>>>,
}

#[derive(Deserialize)]
struct File {
    shared: Shared,
    profiles: Vec<ThreadProfile>,
}

#[derive(Deserialize)]
struct Shared {
    frames: Vec<SharedFrame>,
}

#[derive(Deserialize)]
struct SharedFrame {
    name: String,
    #[serde(default)]
    file: Option<String>,
}

#[derive(Deserialize)]
struct ThreadProfile {
    #[serde(default)]
    samples: Vec<Vec<usize>>,
}

/// A Rust symbol as Rust names it (`std::sys::pal::unix::futex::futex_wait`, without its hash);
/// any other name as it is.
fn demangled(name: &str) -> String {
    if name.starts_with("_R") || name.starts_with("_ZN") {
        format!("{:#}", rustc_demangle::demangle(name))
    } else {
        name.to_owned()
    }
}

/// Parses py-spy's `--format speedscope` output.
pub fn parse(json: &str) -> Result<Sampled, String> {
    let file: File = serde_json::from_str(json).map_err(|e| format!("py-spy's output is not speedscope JSON: {e}"))?;
    let frames: Vec<Frame> = file
        .shared
        .frames
        .into_iter()
        .map(|f| Frame { name: demangled(&f.name), file: f.file.unwrap_or_default() })
        .collect();
    let threads: Vec<Vec<Vec<usize>>> = file.profiles.into_iter().map(|p| p.samples).collect();
    if let Some(bad) = threads.iter().flatten().flatten().find(|&&i| i >= frames.len()) {
        return Err(format!("py-spy's output names frame {bad} of {}", frames.len()));
    }
    Ok(Sampled { frames, threads })
}

/// The innermost native frames with a name (up to three, before any Python frame): where a
/// thread that waits is waiting (`pthread_cond_timedwait` above an unnamed frame of libc).
pub fn innermost_native<'a>(frames: &'a [&'a Frame]) -> impl Iterator<Item = &'a Frame> + 'a {
    frames.iter().rev().take_while(|f| !f.is_python()).filter(|f| !f.name.starts_with("0x")).take(3).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_ordered_samples_per_thread() {
        let json = r#"{"$schema":"https://www.speedscope.app/file-format-schema.json",
          "shared":{"frames":[
            {"name":"Sync._wait","file":"<aerobench>/python_shim/aerobench_client_noop.py","line":50,"col":null},
            {"name":"Sync.put","file":"<aerobench>/python_shim/aerobench_client_noop.py","line":56,"col":null},
            {"name":"read","file":"/usr/lib/x86_64-linux-gnu/libc.so.6","line":0,"col":null}]},
          "profiles":[{"type":"sampled","name":"Thread 1 \"MainThread\"","unit":"seconds","startValue":0,
            "endValue":0.015,"samples":[[2],[1,0],[1]],"weights":[0.005,0.005,0.005]}]}"#;
        let s = parse(json).unwrap();
        assert_eq!(s.threads, vec![vec![vec![2], vec![1, 0], vec![1]]]);
        assert_eq!(s.frames[0].label(), "Sync._wait (python_shim/aerobench_client_noop.py)");
        assert_eq!(s.frames[2].label(), "read (libc.so.6)");
        assert!(s.frames[0].is_python() && !s.frames[2].is_python());
        assert_eq!(
            Frame::new("get", "/v/site-packages/aerospike_py/_client.py").label(),
            "get (aerospike_py/_client.py)"
        );
        assert_eq!(Frame::new("0x7f1c685ed24a", "/usr/lib/libz.so.1").label(), "[libz.so.1]");
        let rust = json.replace("\"read\"", "\"_RNvNtNtNtNtCs9k3SxhrAWiO_3std3sys3pal4unix5futex10futex_wait\"");
        assert_eq!(parse(&rust).unwrap().frames[2].name, "std::sys::pal::unix::futex::futex_wait");
        assert!(parse("{}").is_err());
        let out_of_range = json.replace("[1,0]", "[1,7]");
        assert!(parse(&out_of_range).unwrap_err().contains("frame 7"));
    }
}
