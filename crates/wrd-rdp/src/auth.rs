//! Who may log in, and the brake on password guessing.
//!
//! [`AuthThrottle`] is sans-I/O: it is told about failures with the time they happened and
//! answers whether an address is currently refused, so its policy is tested without sleeping.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The account a client must present.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// Most clients send an empty or machine domain; `None` accepts any.
    pub domain: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("domain", &self.domain)
            .finish()
    }
}

/// How clients prove who they are.
#[derive(Debug, Clone)]
pub enum AuthMode {
    /// NLA (CredSSP over TLS): the password is checked before the session starts. Default.
    Nla(Credentials),
    /// TLS only: the password travels in the client info PDU after the TLS handshake.
    /// Needed by a few old clients; asked for explicitly.
    TlsOnly(Credentials),
    /// No authentication; only allowed on a loopback address (enforced by the config layer).
    None,
}

/// Failures from one address within this window count toward a block.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Failures within [`FAILURE_WINDOW`] that trigger a block.
pub const MAX_FAILURES: usize = 5;
/// The first block; each further block of the same address doubles it.
pub const FIRST_BLOCK: Duration = Duration::from_secs(30);
/// Blocks never grow beyond this.
pub const MAX_BLOCK: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Default)]
struct AddressRecord {
    recent_failures: Vec<Instant>,
    /// How many times this address has been blocked; drives the growing back-off.
    blocks: u32,
    blocked_until: Option<Instant>,
}

/// Tracks authentication failures per client address and refuses addresses that keep failing:
/// after [`MAX_FAILURES`] failures within [`FAILURE_WINDOW`], for [`FIRST_BLOCK`], doubling on
/// every repeat up to [`MAX_BLOCK`]. A success clears the address's record.
#[derive(Debug, Default)]
pub struct AuthThrottle {
    records: HashMap<IpAddr, AddressRecord>,
}

/// What the throttle decided about a failure it was told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Counted; the address may keep trying.
    Counted { failures_in_window: usize },
    /// This failure started a block of the given length.
    Blocked(Duration),
}

impl AuthThrottle {
    /// `Some(remaining)` while `addr` is refused.
    pub fn blocked_for(&self, addr: IpAddr, now: Instant) -> Option<Duration> {
        // An expired `blocked_until` is kept: it is the memory that makes the next block longer.
        let until = self.records.get(&addr)?.blocked_until?;
        (until > now).then(|| until - now)
    }

    pub fn record_failure(&mut self, addr: IpAddr, now: Instant) -> FailureOutcome {
        self.forget_stale(now);
        let record = self.records.entry(addr).or_default();
        record
            .recent_failures
            .retain(|t| now.saturating_duration_since(*t) < FAILURE_WINDOW);
        record.recent_failures.push(now);
        let failures_in_window = record.recent_failures.len();
        if failures_in_window < MAX_FAILURES {
            return FailureOutcome::Counted { failures_in_window };
        }
        let factor = 1u32.checked_shl(record.blocks).unwrap_or(u32::MAX);
        let block = FIRST_BLOCK.saturating_mul(factor).min(MAX_BLOCK);
        record.blocks = record.blocks.saturating_add(1);
        record.blocked_until = Some(now + block);
        record.recent_failures.clear();
        FailureOutcome::Blocked(block)
    }

    pub fn record_success(&mut self, addr: IpAddr) {
        self.records.remove(&addr);
    }

    /// Drops records with nothing recent in them, so an address scan cannot grow the map
    /// without bound. The back-off memory (`blocks`) is kept for a day after the last block.
    fn forget_stale(&mut self, now: Instant) {
        const REMEMBER_BLOCKS: Duration = Duration::from_secs(24 * 60 * 60);
        self.records.retain(|_, r| {
            let recent = r
                .recent_failures
                .iter()
                .any(|t| now.saturating_duration_since(*t) < FAILURE_WINDOW);
            let blocked_recently = r
                .blocked_until
                .is_some_and(|until| now.saturating_duration_since(until) < REMEMBER_BLOCKS);
            recent || blocked_recently
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn five_failures_in_a_minute_block_and_blocks_grow() {
        let mut t = AuthThrottle::default();
        let start = Instant::now();
        for i in 0..4 {
            let outcome = t.record_failure(A, start + Duration::from_secs(i));
            assert_eq!(
                outcome,
                FailureOutcome::Counted {
                    failures_in_window: usize::try_from(i).unwrap() + 1
                }
            );
        }
        assert_eq!(
            t.record_failure(A, start + Duration::from_secs(4)),
            FailureOutcome::Blocked(FIRST_BLOCK)
        );
        let now = start + Duration::from_secs(5);
        assert_eq!(t.blocked_for(A, now), Some(FIRST_BLOCK - Duration::from_secs(1)));
        assert_eq!(t.blocked_for(B, now), None, "other addresses are unaffected");

        // After the block expires, five more failures block twice as long.
        let later = start + Duration::from_secs(40);
        assert_eq!(t.blocked_for(A, later), None);
        for i in 0..4 {
            t.record_failure(A, later + Duration::from_secs(i));
        }
        assert_eq!(
            t.record_failure(A, later + Duration::from_secs(4)),
            FailureOutcome::Blocked(FIRST_BLOCK * 2)
        );
    }

    #[test]
    fn failures_spread_over_more_than_a_minute_do_not_block() {
        let mut t = AuthThrottle::default();
        let start = Instant::now();
        for i in 0..10u64 {
            let outcome = t.record_failure(A, start + Duration::from_secs(i * 20));
            assert!(
                matches!(outcome, FailureOutcome::Counted { .. }),
                "{i}: {outcome:?}"
            );
        }
    }

    #[test]
    fn success_clears_the_record_and_blocks_are_capped() {
        let mut t = AuthThrottle::default();
        let mut now = Instant::now();
        for _ in 0..4 {
            t.record_failure(A, now);
        }
        t.record_success(A);
        assert!(matches!(
            t.record_failure(A, now),
            FailureOutcome::Counted {
                failures_in_window: 1
            }
        ));
        t.record_success(A);
        let mut last = FailureOutcome::Counted {
            failures_in_window: 0,
        };
        for _ in 0..20 {
            for _ in 0..MAX_FAILURES {
                last = t.record_failure(A, now);
            }
            now += MAX_BLOCK + Duration::from_secs(1);
        }
        assert_eq!(last, FailureOutcome::Blocked(MAX_BLOCK));
    }
}
