//! CPU time and memory of another process, from Linux's `/proc`.
//!
//! `/proc/PID/stat` gives the CPU time of the whole thread group: every thread of the process,
//! including threads that have already exited (their time is folded into the process), but not
//! its child processes. `/proc/PID/status` gives the resident set size now (`VmRSS`) and its
//! peak since the process started (`VmHWM`).

use std::time::Instant;

use anyhow::{Context, Result, bail};

/// Ticks of `utime` / `stime` per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn clock_ticks_per_second() -> Result<u64> {
    // SAFETY: sysconf only reads a configuration value; it has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    match u64::try_from(ticks) {
        Ok(t) if t > 0 => Ok(t),
        _ => bail!("sysconf(_SC_CLK_TCK) returned {ticks}"),
    }
}

/// CPU time a process has used, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTicks {
    /// User mode (`utime`, field 14 of `/proc/PID/stat`).
    pub user: u64,
    /// Kernel mode (`stime`, field 15).
    pub system: u64,
}

impl CpuTicks {
    pub fn total(self) -> u64 {
        self.user + self.system
    }
}

/// Parses the content of `/proc/PID/stat`. The command name (field 2) is in parentheses and may
/// itself contain spaces and parentheses, so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Result<CpuTicks> {
    let close = text.rfind(')').context("no ')' after the command name")?;
    // After ") ": field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
    let fields: Vec<&str> = text
        .get(close + 1..)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let field = |index: usize, name: &str| -> Result<u64> {
        fields
            .get(index)
            .with_context(|| format!("{name} missing"))?
            .parse()
            .with_context(|| format!("{name} is not a number"))
    };
    Ok(CpuTicks {
        user: field(11, "utime")?,
        system: field(12, "stime")?,
    })
}

/// CPU ticks of process `pid` now.
pub fn read_cpu_ticks(pid: u32) -> Result<CpuTicks> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_stat(&text).with_context(|| format!("parsing {path}"))
}

/// Memory figures of `/proc/PID/status`, in KiB (the file says "kB" and means KiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemStatus {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size since the process started (`VmHWM`).
    pub hwm_kib: u64,
}

/// Parses the content of `/proc/PID/status`.
pub fn parse_status(text: &str) -> Result<MemStatus> {
    let value = |key: &str| -> Result<u64> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .with_context(|| format!("{key} missing (a kernel thread or a zombie?)"))?;
        let mut parts = line.split_whitespace();
        let number = parts.next().with_context(|| format!("{key} is empty"))?;
        if parts.next() != Some("kB") {
            bail!("{key} is not in kB: {line:?}");
        }
        number
            .parse()
            .with_context(|| format!("{key} is not a number: {line:?}"))
    };
    Ok(MemStatus {
        rss_kib: value("VmRSS")?,
        hwm_kib: value("VmHWM")?,
    })
}

/// Memory figures of process `pid` now.
pub fn read_mem(pid: u32) -> Result<MemStatus> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_status(&text).with_context(|| format!("parsing {path}"))
}

/// The command name of process `pid` (`/proc/PID/comm`), to show what is being measured.
pub fn read_comm(pid: u32) -> Result<String> {
    let path = format!("/proc/{pid}/comm");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    Ok(text.trim_end().to_owned())
}

/// CPU ticks and the moment they were read.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    pub at: Instant,
    pub ticks: CpuTicks,
}

impl CpuSample {
    pub fn take(pid: u32) -> Result<Self> {
        Ok(Self {
            at: Instant::now(),
            ticks: read_cpu_ticks(pid)?,
        })
    }

    /// CPU used between `self` and `later`: (ticks, wall seconds, percent of one core).
    pub fn usage_until(&self, later: &Self, ticks_per_second: u64) -> CpuUsage {
        let ticks = later.ticks.total().saturating_sub(self.ticks.total());
        let wall_s = later.at.saturating_duration_since(self.at).as_secs_f64();
        let cpu_s = ticks as f64 / ticks_per_second as f64;
        CpuUsage {
            ticks,
            user_ticks: later.ticks.user.saturating_sub(self.ticks.user),
            system_ticks: later.ticks.system.saturating_sub(self.ticks.system),
            ticks_per_second,
            wall_s,
            percent_of_core: if wall_s > 0.0 { 100.0 * cpu_s / wall_s } else { 0.0 },
        }
    }
}

/// CPU used over a window.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CpuUsage {
    pub ticks: u64,
    pub user_ticks: u64,
    pub system_ticks: u64,
    pub ticks_per_second: u64,
    pub wall_s: f64,
    /// CPU seconds per wall second, in percent (100 = one core fully busy).
    pub percent_of_core: f64,
}

/// Jiffies all CPUs of the machine spent, from the `cpu` line of `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineTicks {
    /// Everything but idle and iowait.
    pub busy: u64,
    /// Time the hypervisor ran something else while a virtual CPU wanted to run (part of
    /// `busy`): on a shared host, the share of the machine our figures never got.
    pub steal: u64,
    pub total: u64,
}

/// Parses the first (`cpu `) line of `/proc/stat`: user, nice, system, idle, iowait, irq,
/// softirq, steal (guest time is already included in user and nice).
pub fn parse_machine_stat(text: &str) -> Result<MachineTicks> {
    let line = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .context("no \"cpu \" line")?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|v| v.parse().with_context(|| format!("{v:?} is not a number")))
        .collect::<Result<_>>()?;
    if values.len() < 5 {
        bail!("the cpu line has only {} fields", values.len());
    }
    let total: u64 = values.iter().sum();
    let idle = values[3] + values[4];
    Ok(MachineTicks {
        busy: total - idle,
        steal: values.get(7).copied().unwrap_or(0),
        total,
    })
}

/// The machine's CPU ticks now.
pub fn read_machine_ticks() -> Result<MachineTicks> {
    let text = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    parse_machine_stat(&text).context("parsing /proc/stat")
}

impl MachineTicks {
    /// Share of all CPUs' time that was busy between `self` and `later`, in percent (100 =
    /// every core busy all the time).
    pub fn busy_percent_until(&self, later: &Self) -> f64 {
        self.percent_until(later, |t| t.busy)
    }

    /// Share of all CPUs' time the hypervisor took (steal) between `self` and `later`, in
    /// percent.
    pub fn steal_percent_until(&self, later: &Self) -> f64 {
        self.percent_until(later, |t| t.steal)
    }

    fn percent_until(&self, later: &Self, part: impl Fn(&Self) -> u64) -> f64 {
        let total = later.total.saturating_sub(self.total);
        let part = part(later).saturating_sub(part(self));
        if total == 0 {
            0.0
        } else {
            100.0 * part as f64 / total as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat() {
        let text = "cpu  100 5 50 800 20 3 2 7 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\nintr 1 2 3\n";
        let t = parse_machine_stat(text).unwrap();
        assert_eq!(
            t,
            MachineTicks {
                busy: 167,
                steal: 7,
                total: 987
            }
        );
        let later = MachineTicks {
            busy: 267,
            steal: 27,
            total: 1187,
        };
        assert!((t.busy_percent_until(&later) - 50.0).abs() < 1e-9);
        assert!((t.steal_percent_until(&later) - 10.0).abs() < 1e-9);
        // Kernels before 2.6.11 wrote no steal column.
        assert_eq!(parse_machine_stat("cpu  1 2 3 4 5\n").unwrap().steal, 0);
        assert!(parse_machine_stat("cpu0 1 2 3\n").is_err());
        assert!(parse_machine_stat("cpu  1 2 3\n").is_err());
        let now = read_machine_ticks().unwrap();
        assert!(now.total >= now.busy && now.total > 0);
    }

    const STAT: &str = "4242 (wrd-server) S 1 4242 4242 0 -1 4194560 1234 0 0 0 \
                        157 43 0 0 20 0 7 0 123456 987654321 8000 18446744073709551615 \
                        1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn parses_stat() {
        assert_eq!(
            parse_stat(STAT).unwrap(),
            CpuTicks {
                user: 157,
                system: 43
            }
        );
        assert_eq!(parse_stat(STAT).unwrap().total(), 200);
    }

    #[test]
    fn command_names_with_spaces_and_parentheses() {
        let weird = STAT.replace("(wrd-server)", "(a) b (c d))");
        assert_eq!(
            parse_stat(&weird).unwrap(),
            CpuTicks {
                user: 157,
                system: 43
            }
        );
    }

    #[test]
    fn truncated_stat_is_an_error() {
        assert!(parse_stat("1 (x) S 1 2 3").is_err());
        assert!(parse_stat("no parenthesis").is_err());
    }

    #[test]
    fn parses_status() {
        let text = "Name:\twrd-server\nVmPeak:\t  300000 kB\nVmHWM:\t   23456 kB\nVmRSS:\t   21000 kB\nThreads:\t7\n";
        assert_eq!(
            parse_status(text).unwrap(),
            MemStatus {
                rss_kib: 21000,
                hwm_kib: 23456
            }
        );
        assert!(parse_status("Name:\tkthreadd\nThreads:\t1\n").is_err());
        assert!(parse_status("VmRSS:\t12 MB\nVmHWM:\t1 kB\n").is_err());
    }

    #[test]
    fn reads_our_own_process() {
        let pid = std::process::id();
        let mem = read_mem(pid).unwrap();
        assert!(!read_comm(pid).unwrap().is_empty());
        assert!(mem.rss_kib > 0 && mem.hwm_kib >= mem.rss_kib);
        let tps = clock_ticks_per_second().unwrap();
        let a = CpuSample::take(pid).unwrap();
        let spin = Instant::now();
        let mut x = 0u64;
        while spin.elapsed().as_millis() < 200 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let b = CpuSample::take(pid).unwrap();
        let usage = a.usage_until(&b, tps);
        assert!(usage.wall_s >= 0.2);
        // A busy loop for 200 ms: about 100 % of a core (ticks are 10 ms, and the test
        // runner may share the core).
        assert!(usage.percent_of_core > 30.0, "{usage:?}");
        assert_eq!(usage.ticks, usage.user_ticks + usage.system_ticks);
    }

    #[test]
    fn usage_arithmetic() {
        let t0 = Instant::now();
        let a = CpuSample {
            at: t0,
            ticks: CpuTicks { user: 10, system: 5 },
        };
        let b = CpuSample {
            at: t0 + std::time::Duration::from_secs(30),
            ticks: CpuTicks { user: 12, system: 6 },
        };
        let u = a.usage_until(&b, 100);
        assert_eq!(u.ticks, 3);
        assert!((u.percent_of_core - 0.1).abs() < 1e-9, "{u:?}");
    }
}
