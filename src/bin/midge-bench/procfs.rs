//! What the tool reads about the broker's process from /proc, for the
//! scenarios given `--broker-pid`: its resident memory and the CPU time
//! it has used. Each reader returns `None` when the process or the file
//! is not there (another OS, a broker that exited).

/// VmRSS of process `pid` in kB.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User plus system CPU seconds process `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // SAFETY: sysconf has no preconditions; it only reads a constant.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_sec > 0).then_some(cpu_ticks(&stat)? as f64 / per_sec as f64)
}

/// utime + stime, in clock ticks, from the text of /proc/PID/stat.
fn cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and ')': count from the
    // last ')', after which field 3 (the state) comes.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_fields_14_and_15() {
        let line = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 99";
        assert_eq!(cpu_ticks(line), Some(12));
        assert_eq!(cpu_ticks("42 (midge) S 1 2"), None);
    }

    #[test]
    fn own_process_is_readable_and_a_missing_one_is_not() {
        let me = std::process::id();
        assert!(rss_kb(me).is_some_and(|kb| kb > 0));
        assert!(cpu_seconds(me).is_some_and(|s| s >= 0.0));
        assert!(cpu_seconds(u32::MAX).is_none());
        assert!(rss_kb(u32::MAX).is_none());
    }
}
