//! `host` collector: `df` and `free`, continuously.
//!
//! Exports `centinela_filesystem_*` for every mounted filesystem that is not a pseudo
//! filesystem, `centinela_memory_*` from /proc/meminfo, `centinela_cgroup_memory_*` (the
//! container's limit and usage under cgroup v2), `centinela_cpu_seconds_total`,
//! `centinela_cpu_utilization_ratio` and `centinela_load{1,5,15}`.

use serde::Deserialize;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use procfs::{Current as _, CurrentSI as _};

use super::{every, CollectError, Collector, Schedule, Shared};
use crate::config::check::Problems;
use crate::metrics::{labels, Batch, Labels, MetricDesc};

// === configuration ===

/// The documented defaults of this collector's section (part of `centinela defaults`).
pub const DEFAULTS: &str = r#"[host]
# Disk (every mounted filesystem but pseudo ones), memory (and the cgroup v2 limit inside a
# container), CPU and load.
enabled = true
# Filesystem types that are not disks.
exclude_fstypes = ["autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs",
  "devpts", "devtmpfs", "fusectl", "hugetlbfs", "mqueue", "nsfs", "proc", "pstore",
  "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs", "tracefs"]
# A filesystem whose statvfs does not answer in this time (a hung network mount) is
# reported as an error instead of stalling the collector.
statvfs_timeout = "2s"
"#;

/// This module's part of the configuration: `host`.
pub type Section = HostConfig;

/// `[host]`: disk, memory, CPU and load.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Collect host metrics.
    pub enabled: bool,
    /// Filesystem types that are not disks.
    pub exclude_fstypes: Vec<String>,
    /// A filesystem whose statvfs takes longer is reported as an error.
    #[serde(with = "humantime_serde")]
    pub statvfs_timeout: Duration,
}

// === metrics ===

crate::metrics! {
    FS_SIZE: "centinela_filesystem_size_bytes", Gauge, ["mountpoint", "device", "fstype"],
        "Filesystem size.";
    FS_AVAIL: "centinela_filesystem_avail_bytes", Gauge, ["mountpoint", "device", "fstype"],
        "Space available to unprivileged users (what df shows as Avail).";
    FS_FREE: "centinela_filesystem_free_bytes", Gauge, ["mountpoint", "device", "fstype"],
        "Free space, including what is reserved for root.";
    FS_FILES: "centinela_filesystem_files", Gauge, ["mountpoint", "device", "fstype"],
        "Inodes in the filesystem.";
    FS_FILES_FREE: "centinela_filesystem_files_free", Gauge, ["mountpoint", "device", "fstype"],
        "Free inodes.";
    FS_READONLY: "centinela_filesystem_readonly", Gauge, ["mountpoint", "device", "fstype"],
        "1 if the filesystem is mounted read-only.";
    FS_ERROR: "centinela_filesystem_device_error", Gauge, ["mountpoint", "device", "fstype", "reason"],
        "1 for a filesystem that could not be read (reason timeout: statvfs did not answer, as a hung network mount does).";
    MEM_TOTAL: "centinela_memory_total_bytes", Gauge, [],
        "Total usable memory (MemTotal).";
    MEM_AVAILABLE: "centinela_memory_available_bytes", Gauge, [],
        "Memory available for new work without swapping (MemAvailable), what free -m shows as available.";
    MEM_FREE: "centinela_memory_free_bytes", Gauge, [],
        "Unused memory (MemFree).";
    MEM_CACHED: "centinela_memory_cached_bytes", Gauge, [],
        "Page cache (Cached).";
    MEM_SWAP_TOTAL: "centinela_memory_swap_total_bytes", Gauge, [],
        "Swap space.";
    MEM_SWAP_FREE: "centinela_memory_swap_free_bytes", Gauge, [],
        "Unused swap space.";
    CG_MEM_MAX: "centinela_cgroup_memory_max_bytes", Gauge, [],
        "Memory limit of centinela's cgroup (v2 memory.max), i.e. the container's limit; absent when unlimited or outside cgroup v2.";
    CG_MEM_CURRENT: "centinela_cgroup_memory_current_bytes", Gauge, [],
        "Memory used by centinela's cgroup (v2 memory.current), i.e. the whole container or pod's share.";
    CPU_SECONDS: "centinela_cpu_seconds_total", Counter, ["mode"],
        "CPU time of all cores by mode, from /proc/stat.";
    CPU_UTIL: "centinela_cpu_utilization_ratio", Gauge, [],
        "Share of CPU time not idle (idle and iowait count as idle) between the last two runs, 0 to 1; absent after the first.";
    LOAD1: "centinela_load1", Gauge, [],
        "1-minute load average.";
    LOAD5: "centinela_load5", Gauge, [],
        "5-minute load average.";
    LOAD15: "centinela_load15", Gauge, [],
        "15-minute load average.";
}


/// Disk, memory (and the cgroup limit), CPU and load of the host.
#[derive(Debug)]
pub struct HostCollector {
    exclude_fstypes: HashSet<String>,
    statvfs_timeout: Duration,
    /// Mountpoints whose statvfs has not returned yet: not asked again until it does, so a
    /// hung mount ties up one blocking thread, not one per run.
    hung: Arc<Mutex<HashSet<String>>>,
    /// CPU ticks (busy, total) at the previous run, for the utilisation ratio.
    previous_cpu: Mutex<Option<(u64, u64)>>,
    /// Filesystems not read, as last logged.
    reported: crate::sync::Reported,
}

/// One filesystem as statvfs sees it, in bytes and inodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FsStats {
    /// Bytes in all.
    pub size: f64,
    /// Bytes available to unprivileged users.
    pub avail: f64,
    /// Bytes free.
    pub free: f64,
    /// Inodes in all.
    pub files: f64,
    /// Inodes free.
    pub files_free: f64,
    /// Mounted read-only.
    pub readonly: bool,
}

// === impl HostCollector ===

impl HostCollector {
    /// The collector for `[host]`.
    pub fn new(config: &HostConfig) -> Self {
        Self {
            exclude_fstypes: config.exclude_fstypes.iter().cloned().collect(),
            statvfs_timeout: config.statvfs_timeout,
            hung: Arc::default(),
            previous_cpu: Mutex::new(None),
            reported: crate::sync::Reported::default(),
        }
    }

    async fn filesystems(&self, b: &mut Batch) -> Result<(), CollectError> {
        let mounts = procfs::mounts()
            .map_err(|e| CollectError::Host(format!("cannot read /proc/mounts: {e}")))?;
        let mut seen = HashSet::new();
        let mut rows: Vec<(Labels, FsStats)> = Vec::new();
        let mut errors: Vec<(Labels, &'static str)> = Vec::new();
        let mut unread: Vec<(String, String)> = Vec::new();
        for m in mounts {
            if self.exclude_fstypes.contains(&m.fs_vfstype) || !seen.insert(m.fs_file.clone()) {
                continue;
            }
            let l = labels([
                ("mountpoint", &m.fs_file),
                ("device", &m.fs_spec),
                ("fstype", &m.fs_vfstype),
            ]);
            match self.statvfs(m.fs_file.clone()).await {
                Ok(stats) => rows.push((l, stats)),
                Err(reason) => {
                    unread.push((m.fs_file.clone(), reason.to_owned()));
                    errors.push((l, reason));
                }
            }
        }
        for (mountpoint, reason) in self.reported.update(unread) {
            tracing::warn!(mountpoint = %mountpoint, reason, "Filesystem not read.");
        }
        type FsField = fn(&FsStats) -> f64;
        let fields: [(&'static MetricDesc, FsField); 6] = [
            (&FS_SIZE, |s| s.size),
            (&FS_AVAIL, |s| s.avail),
            (&FS_FREE, |s| s.free),
            (&FS_FILES, |s| s.files),
            (&FS_FILES_FREE, |s| s.files_free),
            (&FS_READONLY, |s| if s.readonly { 1.0 } else { 0.0 }),
        ];
        for (desc, field) in fields {
            for (l, s) in &rows {
                b.push(desc, Arc::clone(l), field(s));
            }
        }
        for (l, reason) in errors {
            let l: Labels = l
                .iter()
                .cloned()
                .chain([("reason".into(), Arc::from(reason))])
                .collect();
            b.push(&FS_ERROR, l, 1.0);
        }
        Ok(())
    }

    /// statvfs off the async runtime, bounded by `statvfs_timeout`.
    async fn statvfs(&self, mountpoint: String) -> Result<FsStats, &'static str> {
        {
            let mut hung = crate::sync::lock(&self.hung);
            if hung.contains(&mountpoint) {
                return Err("timeout");
            }
            hung.insert(mountpoint.clone());
        }
        let hung = Arc::clone(&self.hung);
        let task = tokio::task::spawn_blocking(move || {
            let result = nix::sys::statvfs::statvfs(mountpoint.as_str());
            crate::sync::lock(&hung).remove(&mountpoint);
            result
        });
        match tokio::time::timeout(self.statvfs_timeout, task).await {
            Err(_) => Err("timeout"),
            Ok(Err(_)) => Err("internal"),
            Ok(Ok(Err(_))) => Err("statvfs_failed"),
            Ok(Ok(Ok(st))) => Ok(fs_stats(&st)),
        }
    }

    fn cpu(&self, b: &mut Batch) -> Result<(), CollectError> {
        let stat = procfs::KernelStats::current()
            .map_err(|e| CollectError::Host(format!("cannot read /proc/stat: {e}")))?;
        let t = &stat.total;
        let modes = [
            ("user", Some(t.user)),
            ("nice", Some(t.nice)),
            ("system", Some(t.system)),
            ("idle", Some(t.idle)),
            ("iowait", t.iowait),
            ("irq", t.irq),
            ("softirq", t.softirq),
            ("steal", t.steal),
        ];
        #[allow(clippy::cast_precision_loss)]
        let hz = procfs::ticks_per_second() as f64;
        let mut total = 0;
        for (mode, ticks) in modes {
            if let Some(ticks) = ticks {
                total += ticks;
                #[allow(clippy::cast_precision_loss)]
                b.push(&CPU_SECONDS, labels([("mode", mode)]), ticks as f64 / hz);
            }
        }
        let idle = t.idle + t.iowait.unwrap_or(0);
        let busy = total - idle;
        let previous = crate::sync::lock(&self.previous_cpu).replace((busy, total));
        if let Some(ratio) = previous.and_then(|(pb, pt)| utilization(pb, pt, busy, total)) {
            b.set(&CPU_UTIL, ratio);
        }
        Ok(())
    }
}

#[allow(clippy::cast_precision_loss)]
fn fs_stats(st: &nix::sys::statvfs::Statvfs) -> FsStats {
    let frsize = st.fragment_size() as f64;
    FsStats {
        size: st.blocks() as f64 * frsize,
        avail: st.blocks_available() as f64 * frsize,
        free: st.blocks_free() as f64 * frsize,
        files: st.files() as f64,
        files_free: st.files_free() as f64,
        readonly: st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
    }
}

/// Busy share of the ticks between two samples; None when no time passed.
#[allow(clippy::cast_precision_loss)]
pub fn utilization(prev_busy: u64, prev_total: u64, busy: u64, total: u64) -> Option<f64> {
    let dt = total.checked_sub(prev_total)?;
    if dt == 0 {
        return None;
    }
    let db = busy.saturating_sub(prev_busy);
    Some((db as f64 / dt as f64).clamp(0.0, 1.0))
}

/// The cgroup v2 directory of this process, from a /proc/self/cgroup text ("`0::/path`").
pub fn cgroup_v2_path(proc_self_cgroup: &str) -> Option<String> {
    proc_self_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| format!("/sys/fs/cgroup{}", p.trim_end_matches('/')))
}

/// A memory.max or memory.current value; "max" (no limit) is None.
pub fn parse_cgroup_bytes(text: &str) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    text.trim().parse::<u64>().ok().map(|v| v as f64)
}

#[allow(clippy::cast_precision_loss)]
fn memory(b: &mut Batch) -> Result<(), CollectError> {
    let m = procfs::Meminfo::current()
        .map_err(|e| CollectError::Host(format!("cannot read /proc/meminfo: {e}")))?;
    b.set(&MEM_TOTAL, m.mem_total as f64);
    if let Some(a) = m.mem_available {
        b.set(&MEM_AVAILABLE, a as f64);
    }
    b.set(&MEM_FREE, m.mem_free as f64);
    b.set(&MEM_CACHED, m.cached as f64);
    b.set(&MEM_SWAP_TOTAL, m.swap_total as f64);
    b.set(&MEM_SWAP_FREE, m.swap_free as f64);
    // Inside a container the host's figures mislead: the limit that matters is the cgroup's.
    if let Some(dir) = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .as_deref()
        .and_then(cgroup_v2_path)
    {
        let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).ok();
        if let Some(max) = read("memory.max").as_deref().and_then(parse_cgroup_bytes) {
            b.set(&CG_MEM_MAX, max);
        }
        if let Some(cur) = read("memory.current")
            .as_deref()
            .and_then(parse_cgroup_bytes)
        {
            b.set(&CG_MEM_CURRENT, cur);
        }
    }
    Ok(())
}

impl Collector for HostCollector {
    const NAME: &'static str = "host";
    const METRICS: &'static [&'static MetricDesc] = METRICS;

    type Section = Section;
    const SCHEDULE: Option<&'static str> = Some("15s");

    fn plan(
        section: &Self::Section,
        schedule: &Schedule,
        _shared: &Shared,
        problems: &mut Problems,
    ) -> Option<(Self, Duration)> {
        let interval = every::<Self>(problems, schedule);
        section.enabled.then(|| (Self::new(section), interval))
    }

    async fn collect(&self) -> Result<Batch, CollectError> {
        let mut b = Batch::default();
        self.filesystems(&mut b).await?;
        memory(&mut b)?;
        self.cpu(&mut b)?;
        let load = procfs::LoadAverage::current()
            .map_err(|e| CollectError::Host(format!("cannot read /proc/loadavg: {e}")))?;
        b.set(&LOAD1, f64::from(load.one));
        b.set(&LOAD5, f64::from(load.five));
        b.set(&LOAD15, f64::from(load.fifteen));
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utilization_between_samples() {
        assert_eq!(utilization(100, 1000, 150, 1100), Some(0.5));
        assert_eq!(utilization(100, 1000, 100, 1000), None);
        assert_eq!(utilization(100, 1000, 90, 900), None, "counter reset");
    }

    #[test]
    fn cgroup_files() {
        assert_eq!(
            cgroup_v2_path("0::/kubepods/pod1/c1\n").as_deref(),
            Some("/sys/fs/cgroup/kubepods/pod1/c1")
        );
        assert_eq!(cgroup_v2_path("0::/\n").as_deref(), Some("/sys/fs/cgroup"));
        assert_eq!(cgroup_v2_path("12:memory:/x\n"), None, "cgroup v1");
        assert_eq!(parse_cgroup_bytes("536870912\n"), Some(536_870_912.0));
        assert_eq!(parse_cgroup_bytes("max\n"), None);
    }

    #[tokio::test]
    async fn reads_this_machine() {
        let section: HostConfig = crate::config::section_from_toml(DEFAULTS, "host").unwrap();
        let c = HostCollector::new(&section);
        let b = c.collect().await.unwrap();
        let root = b
            .value("centinela_filesystem_size_bytes", &[("mountpoint", "/")])
            .unwrap();
        assert!(root > 0.0);
        let avail = b
            .value("centinela_filesystem_avail_bytes", &[("mountpoint", "/")])
            .unwrap();
        assert!(avail <= root);
        assert!(b.value("centinela_memory_total_bytes", &[]).unwrap() > 1e8);
        assert!(
            b.value("centinela_cpu_seconds_total", &[("mode", "idle")])
                .unwrap()
                > 0.0
        );
        assert!(b
            .value("centinela_filesystem_size_bytes", &[("fstype", "proc")])
            .is_none());
        assert!(
            b.value("centinela_cpu_utilization_ratio", &[]).is_none(),
            "needs two samples"
        );
        let b = c.collect().await.unwrap();
        let u = b
            .value("centinela_cpu_utilization_ratio", &[])
            .unwrap_or(0.0);
        assert!((0.0..=1.0).contains(&u));
    }
}
