//! Record values for the Python columns: aerobench's values as the Python objects every client
//! takes (int, float, str, bool, bytes, list, dict) and the objects a client reads back as
//! values again. The shim builds spec records and checks what it reads (`--verify`) through
//! the two callables made here, so Python and Rust never hold two copies of the generator.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyCFunction, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::workload::{BinValue, Workload};

/// `v` as a Python object.
pub fn to_py<'py>(py: Python<'py>, v: &BinValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        BinValue::Int(i) => i.into_pyobject(py)?.into_any(),
        BinValue::Double(d) => d.into_pyobject(py)?.into_any(),
        BinValue::Str(s) => PyString::new(py, s).into_any(),
        BinValue::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        BinValue::Bytes(b) => PyBytes::new(py, b).into_any(),
        BinValue::List(items) => {
            PyList::new(py, items.iter().map(|x| to_py(py, x)).collect::<PyResult<Vec<_>>>()?)?.into_any()
        }
        BinValue::Map(entries) => {
            let d = PyDict::new(py);
            for (k, v) in entries {
                d.set_item(to_py(py, k)?, to_py(py, v)?)?;
            }
            d.into_any()
        }
    })
}

/// A Python object read back, as a value (`None`: a type aerobench never writes). A bool is
/// told from an int, `bytes` and `bytearray` are both bytes, a dict keeps its order.
pub fn from_py(obj: &Bound<'_, PyAny>) -> Option<BinValue> {
    if obj.is_instance_of::<PyBool>() {
        return obj.extract::<bool>().ok().map(BinValue::Bool);
    }
    if obj.is_instance_of::<PyInt>() {
        return obj.extract::<i64>().ok().map(BinValue::Int);
    }
    if obj.is_instance_of::<PyFloat>() {
        return obj.extract::<f64>().ok().map(BinValue::Double);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return s.to_str().ok().map(|s| BinValue::Str(s.to_string()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Some(BinValue::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Some(BinValue::Bytes(b.to_vec()));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l.iter().map(|x| from_py(&x)).collect::<Option<_>>().map(BinValue::List);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t.iter().map(|x| from_py(&x)).collect::<Option<_>>().map(BinValue::List);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let entries = d.iter().map(|(k, v)| Some((from_py(&k)?, from_py(&v)?))).collect::<Option<Vec<_>>>()?;
        // A dict is compared by content: aerospike-py hands a map back in hash order, not the
        // key order the server sent, and no Python code relies on a dict's order for a map.
        return Some(crate::workload::verify::maps_by_key(BinValue::Map(entries)));
    }
    None
}

/// `record_values(i)`: the bins of record `i` as a dict, name → value.
pub fn values_callable<'py>(py: Python<'py>, workload: &Workload) -> PyResult<Bound<'py, PyCFunction>> {
    let w = workload.clone();
    PyCFunction::new_closure(py, Some(c"record_values"), None, move |args, _| -> PyResult<Py<PyAny>> {
        let py = args.py();
        let i: u64 = args.get_item(0)?.extract()?;
        let d = PyDict::new(py);
        for (name, v) in w.values(i) {
            d.set_item(name, to_py(py, &v)?)?;
        }
        Ok(d.into_any().unbind())
    })
}

/// `record_check(bins, index, digest)`: whether the bins a read returned (a dict) are the ones
/// written for record `index` (a get's key, a batch row's position), or with `index` None, for
/// the record written under `digest` (a scanned record's; None where a client hands none back,
/// then the record's own bins must tell it), and only the bins asked for (`--read-bins`).
pub fn check_callable<'py>(py: Python<'py>, workload: &Workload) -> PyResult<Bound<'py, PyCFunction>> {
    let verifier = crate::workload::verify::Verifier::new(workload.clone());
    PyCFunction::new_closure(py, Some(c"record_check"), None, move |args, _| -> PyResult<bool> {
        let bins = args.get_item(0)?;
        if bins.is_none() {
            return Ok(false);
        }
        let index: Option<u64> = match args.get_item(1) {
            Ok(i) if !i.is_none() => Some(i.extract()?),
            _ => None,
        };
        let digest: Option<Vec<u8>> = match args.get_item(2) {
            Ok(d) if !d.is_none() => d.extract().ok(),
            _ => None,
        };
        let count = bins.len()?;
        let lookup = |name: &str| -> Option<BinValue> {
            let v = bins.call_method1("get", (name,)).ok()?;
            if v.is_none() { None } else { from_py(&v) }
        };
        Ok(match index {
            Some(i) => verifier.record(i, count, lookup).is_ok(),
            None => verifier.scanned(digest.as_deref(), count, lookup).is_ok(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_type_goes_to_python_and_back_unchanged() {
        // The embedded interpreter as the workers start it (its modules registered first).
        crate::drivers::embedded::initialize();
        Python::attach(|py| {
            let v = BinValue::List(vec![
                BinValue::Int(-5),
                BinValue::Double(0.25),
                BinValue::Str("é".into()),
                BinValue::Bool(true),
                BinValue::Bytes(vec![0, 1, 255]),
                BinValue::Map(vec![
                    (BinValue::Str("b".into()), BinValue::Int(1)),
                    (BinValue::Str("a".into()), BinValue::List(vec![])),
                ]),
            ]);
            let obj = to_py(py, &v).unwrap();
            let mut sorted = v.clone();
            if let BinValue::List(items) = &mut sorted
                && let BinValue::Map(entries) = &mut items[5]
            {
                entries.reverse();
            }
            assert_eq!(from_py(&obj), Some(sorted), "a dict's entries come back in key order");
            // A client may hand blobs back as bytearray, and True is not the int 1.
            assert_eq!(from_py(PyByteArray::new(py, b"xy").as_any()), Some(BinValue::Bytes(b"xy".to_vec())));
            assert_eq!(from_py(PyBool::new(py, true).as_any()), Some(BinValue::Bool(true)));
            assert_eq!(from_py(py.None().bind(py)), None);
        });
    }
}
