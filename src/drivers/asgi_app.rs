//! One column's ASGI app as a service runs: uvicorn (from the column's interpreter's package
//! cache) serving `python_shim/aerobench_app.py` in processes of their own, started, watched
//! (CPU time, resident memory, workers lost) and always stopped.
