//! The embedded Python interpreter: started once per worker process with an explicit program
//! name (the interpreter the build linked, so `sys.executable` and `sys.prefix` are right
//! whatever `PATH` says), with aerobench's own `aerobench_native` module registered first and
//! the shim (compiled into the binary) loaded as ordinary modules.

pub mod cache;
pub mod diagnose;
pub mod interpreter;
pub mod loop_waker;
pub mod packages;
pub mod provenance;
pub mod recorder;
pub mod site;
pub mod worker_build;

use std::ffi::CString;
use std::path::Path;
use std::sync::Once;

use anyhow::{Context as _, anyhow};
use pyo3::prelude::*;

/// The interpreter pyo3 linked at build time.
pub const PYTHON_EXECUTABLE: &str = env!("AEROBENCH_PYTHON_EXECUTABLE");
/// Its `major.minor`.
pub const PYTHON_VERSION: &str = env!("AEROBENCH_PYTHON_VERSION");
/// `t` when it is a free-threaded build, else empty.
pub const PYTHON_FREE_THREADED: &str = env!("AEROBENCH_PYTHON_FREE_THREADED");

/// The shim: (module name, source). The common module comes first; adapters import it. Modules
/// not named `aerobench_client_*` are shared and loaded in every worker.
pub const SHIM: &[(&str, &str)] = &[
    ("aerobench_shim", include_str!("../../../python_shim/aerobench_shim.py")),
    ("aerobench_client_aerospike_py", include_str!("../../../python_shim/aerobench_client_aerospike_py.py")),
    ("aerobench_client_official", include_str!("../../../python_shim/aerobench_client_official.py")),
    ("aerobench_client_native", include_str!("../../../python_shim/aerobench_client_native.py")),
    ("aerobench_client_sdk", include_str!("../../../python_shim/aerobench_client_sdk.py")),
    ("aerobench_client_noop", include_str!("../../../python_shim/aerobench_client_noop.py")),
    ("aerobench_competitor", include_str!("../../../python_shim/aerobench_competitor.py")),
];

/// The ASGI app a column serves in service mode (`drivers::asgi_app`): not loaded in the embedded
/// workers, written beside the shim into the app's run folder and run by the column's interpreter.
pub const APP_MODULE: (&str, &str) = ("aerobench_app", include_str!("../../../python_shim/aerobench_app.py"));

static INIT: Once = Once::new();

/// Starts the interpreter (once). Must run before any other Python call in the process.
pub fn initialize() {
    INIT.call_once(|| {
        pyo3::append_to_inittab!(aerobench_native);
        // SAFETY: called once, before any other use of Python in this process; the config is
        // initialised, used and cleared here, and the thread state is released at the end so
        // `Python::attach` can take it.
        unsafe {
            let mut config = std::mem::MaybeUninit::<pyo3::ffi::PyConfig>::zeroed();
            pyo3::ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
            let mut config = config.assume_init();
            let program = CString::new(PYTHON_EXECUTABLE).unwrap_or_default();
            let status = pyo3::ffi::PyConfig_SetBytesString(&mut config, &mut config.program_name, program.as_ptr());
            if pyo3::ffi::PyStatus_Exception(status) == 0 {
                // Arguments are aerobench's, not Python's: do not let Python parse them.
                config.parse_argv = 0;
                let status = pyo3::ffi::Py_InitializeFromConfig(&config);
                if pyo3::ffi::PyStatus_Exception(status) != 0 {
                    pyo3::ffi::PyConfig_Clear(&mut config);
                    panic!("cannot initialise the embedded Python ({PYTHON_EXECUTABLE})");
                }
            }
            pyo3::ffi::PyConfig_Clear(&mut config);
            if pyo3::ffi::Py_IsInitialized() != 0 {
                pyo3::ffi::PyEval_SaveThread();
            }
        }
    });
}

/// aerobench's module for the shim: the recorder async clients report through.
#[pymodule]
mod aerobench_native {
    #[pymodule_export]
    use super::recorder::PhaseRecorder;
    #[pymodule_export]
    use super::recorder::gc_event;
}

/// Puts `dirs` (and what their `.pth` files name) first on `sys.path` and loads the shared shim
/// modules and the adapter `module` (which imports its client package).
pub fn prepare(py: Python<'_>, dirs: &[&Path], module: &str) -> anyhow::Result<()> {
    site::add_first(py, dirs).map_err(|e| py_err(py, e))?;
    for (name, source) in SHIM.iter().filter(|(name, _)| !name.starts_with("aerobench_client_") || *name == module) {
        let code = CString::new(*source).context("shim source contains a NUL byte")?;
        let file = CString::new(format!("<aerobench>/python_shim/{name}.py"))?;
        let module_name = CString::new(*name)?;
        PyModule::from_code(py, &code, &file, &module_name).map_err(|e| py_err(py, e))?;
    }
    Ok(())
}

/// A Python exception as an error with its type, message and traceback's last line.
pub fn py_err(py: Python<'_>, e: PyErr) -> anyhow::Error {
    let tb = e
        .traceback(py)
        .and_then(|t| t.format().ok())
        .and_then(|t| t.lines().rev().find(|l| l.trim_start().starts_with("File")).map(|l| l.trim().to_string()));
    match tb {
        Some(tb) => anyhow!("{e} (at {tb})"),
        None => anyhow!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::call_reason;

    #[test]
    fn the_shims_reasons_have_the_rust_form() {
        initialize();
        Python::attach(|py| {
            prepare(py, &[], SHIM[0].0).unwrap();
            let shim = py.import(SHIM[0].0).unwrap();
            let reason = |expr: &str| -> String {
                let code = CString::new(expr).unwrap();
                let exc = py.eval(&code, None, None).unwrap();
                shim.call_method1("reason", (exc,)).unwrap().extract().unwrap()
            };
            assert_eq!(reason("ValueError('bad  value\\n  more')"), call_reason("ValueError", None, "bad value"));
            assert_eq!(reason("TimeoutError()"), "TimeoutError");
            // A result code as the first argument, as the official client's exceptions carry it.
            assert_eq!(reason("Exception(4, 'parameter error')"), call_reason("Exception", Some(4), "parameter error"));
            let long = reason("RuntimeError('key ' * 100)");
            assert_eq!(long, call_reason("RuntimeError", None, &"key ".repeat(100)));
            assert!(long.ends_with('…') && long.chars().count() == crate::drivers::REASON_LIMIT, "{long}");
        });
    }

    #[test]
    fn garbage_collections_are_timed_by_the_rust_clock() {
        initialize();
        Python::attach(|py| {
            prepare(py, &[], SHIM[0].0).unwrap();
            let shim = py.import(SHIM[0].0).unwrap();
            shim.call_method0("watch_gc").unwrap();
            let before = recorder::gc_total();
            let code =
                CString::new("[[{'k': [i]} for i in range(2000)] for _ in range(200)] and __import__('gc').collect()")
                    .unwrap();
            py.eval(&code, None, None).unwrap();
            assert!(recorder::gc_total() > before, "collections were timed: {:?}", recorder::gc_total());
        });
    }
}
