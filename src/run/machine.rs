//! The machine a run happened on, for the report header: OS, architecture, CPUs, CPU model,
//! memory and host name, as `sysinfo` reads them on Linux, macOS and the rest. Fields the
//! platform does not tell are left out, never guessed.

use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

use crate::model::results::MachineInfo;

pub fn describe() -> MachineInfo {
    let system = System::new_with_specifics(
        RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing()).with_memory(MemoryRefreshKind::nothing().with_ram()),
    );
    let cpu_model = system.cpus().first().map(|c| c.brand().trim().to_string()).filter(|m| !m.is_empty());
    let memory_bytes = Some(system.total_memory()).filter(|&m| m > 0);
    MachineInfo {
        os: std::env::consts::OS.to_string(),
        arch: std::env::consts::ARCH.to_string(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model,
        memory_bytes,
        hostname: System::host_name().map(|h| h.trim().to_string()).filter(|h| !h.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_this_machine_without_guessing() {
        let m = describe();
        assert_eq!(m.os, std::env::consts::OS);
        assert!(m.cpus >= 1);
        // Every platform aerobench is tested on (Linux, macOS) tells its memory; a few MiB would
        // mean a unit was misread.
        if cfg!(any(target_os = "linux", target_os = "macos")) {
            assert!(m.memory_bytes.is_some_and(|b| b > 64 << 20), "{m:?}");
        }
        assert!(m.cpu_model.as_deref().is_none_or(|c| !c.is_empty()), "{m:?}");
    }
}
