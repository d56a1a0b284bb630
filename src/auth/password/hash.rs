//! The hash field of a password file line: parsing it into one of the
//! kinds of the module doc (within the cost bounds), checking a password
//! against it in constant time, and writing new hashes for `midge passwd`.
//!
//! The Argon2id PHC string is parsed here rather than by a generic PHC
//! parser, to name exactly what is wrong and to refuse an over-costly hash
//! before anything is allocated for it; the hash functions themselves are
//! the `sha2`, `pbkdf2` and `argon2` crates'.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::alphabet;
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, STANDARD_NO_PAD,
};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use super::{MAX_ARGON2_LANES, MAX_ARGON2_MEMORY_KIB, MAX_ARGON2_WORK, MAX_PBKDF2_ITERATIONS};

/// The length of a SHA-512 digest, the HASH of `$6$` and `$7$`.
const DIGEST_LEN: usize = 64;
/// The longest salt accepted, and the longest Argon2id output.
const MAX_SALT_LEN: usize = 64;
const MAX_ARGON2_OUTPUT: usize = 64;
/// The shortest Argon2id output (the algorithm's own minimum).
const MIN_ARGON2_OUTPUT: usize = 4;

/// Mosquitto 2.1's Argon2id settings, which `midge passwd -H argon2id`
/// writes: memory in KiB, passes, lanes, salt and output length in bytes.
const ARGON2_M: u32 = 47104;
const ARGON2_T: u32 = 1;
const ARGON2_P: u32 = 1;
const ARGON2_SALT_LEN: usize = 64;
/// The salt length `mosquitto_passwd` 2.0 writes (and requires) for `$6$`
/// and `$7$`.
const SHA_SALT_LEN: usize = 12;

/// The kind of a hash field that is no hash at all.
pub(super) const PLAIN_TEXT: &str = "plain text";

/// Base64 as Mosquitto (OpenSSL) and PHC strings write it; padding and
/// stray low bits of the last character are accepted, as OpenSSL does.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// One user's hash.
#[derive(Clone)]
pub(super) enum Hash {
    /// `$6$`: SHA-512(password || salt).
    Sha512 { salt: Vec<u8>, digest: Vec<u8> },
    /// `$7$`: PBKDF2-HMAC-SHA512.
    Pbkdf2 {
        iterations: u32,
        salt: Vec<u8>,
        digest: Vec<u8>,
    },
    /// `$argon2id$`.
    Argon2id {
        version: Version,
        params: Params,
        salt: Vec<u8>,
        digest: Vec<u8>,
    },
    /// A kind midge cannot check: `$ID$` or `plain text`.
    Unsupported { kind: String },
}

impl Hash {
    /// Parses a hash field (blanks already trimmed, not empty). Returns the
    /// hash, [`Hash::Unsupported`] for an unknown kind, or why a known kind
    /// is malformed or over its cost bound.
    pub(super) fn parse(field: &str) -> Result<Hash, String> {
        let Some((id, rest)) = split_id(field) else {
            return Ok(Hash::Unsupported {
                kind: PLAIN_TEXT.to_string(),
            });
        };
        match (id, rest) {
            ("6", Some(rest)) => parse_sha512(rest),
            ("7", Some(rest)) => parse_pbkdf2(rest),
            ("argon2id", Some(rest)) => parse_argon2id(rest),
            ("6", None) => Err("$6$ hash: expected $6$SALT$HASH".to_string()),
            ("7", None) => Err("$7$ hash: expected $7$ITERATIONS$SALT$HASH".to_string()),
            ("argon2id", None) => {
                Err("$argon2id$ hash: expected $argon2id$v=19$m=M,t=T,p=P$SALT$HASH".to_string())
            }
            (id, _) => Ok(Hash::Unsupported {
                kind: format!("${id}$"),
            }),
        }
    }

    /// Checks `password` against the hash, comparing in constant time.
    /// Returns true when it matches; false for an unsupported kind.
    pub(super) fn verify(&self, password: &[u8]) -> bool {
        let (computed, digest) = match self {
            Hash::Sha512 { salt, digest } => {
                let computed = Sha512::new()
                    .chain_update(password)
                    .chain_update(salt)
                    .finalize();
                (computed.to_vec(), digest)
            }
            Hash::Pbkdf2 {
                iterations,
                salt,
                digest,
            } => {
                let mut computed = vec![0; DIGEST_LEN];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, *iterations, &mut computed);
                (computed, digest)
            }
            Hash::Argon2id {
                version,
                params,
                salt,
                digest,
            } => match argon2id(*version, params, password, salt, digest.len()) {
                Some(computed) => (computed, digest),
                None => return false,
            },
            Hash::Unsupported { .. } => return false,
        };
        computed.ct_eq(digest).into()
    }

    /// The kind, as `$6$`, `$7$`, `$argon2id$` or the unsupported kind.
    pub(super) fn kind(&self) -> &str {
        match self {
            Hash::Sha512 { .. } => "$6$",
            Hash::Pbkdf2 { .. } => "$7$",
            Hash::Argon2id { .. } => "$argon2id$",
            Hash::Unsupported { kind } => kind,
        }
    }

    /// True for the kinds made to be slow to check ($7$, $argon2id$), whose
    /// successful checks are worth remembering (see `PasswordFile::check`).
    pub(super) fn is_slow(&self) -> bool {
        matches!(self, Hash::Pbkdf2 { .. } | Hash::Argon2id { .. })
    }

    /// A rough cost of one check in 1 KiB block operations: 1 for `$6$`,
    /// a quarter of the iterations for `$7$` (each hashes 256 bytes), m
    /// times t for Argon2id, 0 for an unsupported kind.
    #[cfg(any(test, fuzzing))]
    pub(super) fn work(&self) -> u64 {
        match self {
            Hash::Sha512 { .. } => 1,
            Hash::Pbkdf2 { iterations, .. } => u64::from(*iterations).div_ceil(4),
            Hash::Argon2id { params, .. } => {
                u64::from(params.m_cost()) * u64::from(params.t_cost())
            }
            Hash::Unsupported { .. } => 0,
        }
    }
}

/// True when a hash field (blanks trimmed) is of a kind midge checks,
/// malformed or not: `midge passwd -U` leaves such a line as it is.
pub(crate) fn is_hash(field: &str) -> bool {
    matches!(split_id(field), Some(("6" | "7" | "argon2id", _)))
}

/// A kind of hash `midge passwd` writes (`-H`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NewHash {
    /// `$6$` with a 12-byte salt.
    Sha512,
    /// `$7$` with a 12-byte salt and this many iterations.
    Pbkdf2 { iterations: u32 },
    /// `$argon2id$` with Mosquitto 2.1's settings.
    Argon2id,
}

impl NewHash {
    /// How many random salt bytes [`NewHash::encode`] wants: Mosquitto's
    /// length for the kind.
    pub(crate) fn salt_len(self) -> usize {
        match self {
            NewHash::Sha512 | NewHash::Pbkdf2 { .. } => SHA_SALT_LEN,
            NewHash::Argon2id => ARGON2_SALT_LEN,
        }
    }

    /// Hashes `password` with `salt` (of [`NewHash::salt_len`] bytes, from
    /// the OS random source). Returns the hash field in Mosquitto's format.
    pub(crate) fn encode(self, password: &[u8], salt: &[u8]) -> String {
        match self {
            NewHash::Sha512 => {
                let digest = Sha512::new()
                    .chain_update(password)
                    .chain_update(salt)
                    .finalize();
                format!("$6${}${}", STANDARD.encode(salt), STANDARD.encode(digest))
            }
            NewHash::Pbkdf2 { iterations } => {
                let mut digest = [0; DIGEST_LEN];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut digest);
                format!(
                    "$7${iterations}${}${}",
                    STANDARD.encode(salt),
                    STANDARD.encode(digest)
                )
            }
            NewHash::Argon2id => {
                let params = Params::new(ARGON2_M, ARGON2_T, ARGON2_P, Some(MAX_ARGON2_OUTPUT))
                    .expect("Mosquitto's Argon2id settings are valid");
                let digest = argon2id(Version::V0x13, &params, password, salt, MAX_ARGON2_OUTPUT)
                    .expect("a salt of Mosquitto's length is valid");
                format!(
                    "$argon2id$v=19$m={ARGON2_M},t={ARGON2_T},p={ARGON2_P}${}${}",
                    STANDARD_NO_PAD.encode(salt),
                    STANDARD_NO_PAD.encode(digest)
                )
            }
        }
    }
}

/// Runs Argon2id; `None` only if the inputs break the algorithm's limits,
/// which parsing has already ruled out.
fn argon2id(
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    len: usize,
) -> Option<Vec<u8>> {
    let mut blocks = vec![Block::default(); params.block_count()];
    let mut out = vec![0; len];
    Argon2::new(Algorithm::Argon2id, version, params.clone())
        .hash_password_into_with_memory(password, salt, &mut out, &mut blocks)
        .ok()?;
    Some(out)
}

/// Splits `$ID$REST` into the identifier and the rest (`None` when no `$`
/// follows the identifier). Returns `None` when the field does not start
/// with a `$` and a PHC-style identifier (up to 32 of `a-z A-Z 0-9 -`):
/// then it is no hash at all.
fn split_id(field: &str) -> Option<(&str, Option<&str>)> {
    let rest = field.strip_prefix('$')?;
    let (id, after) = match rest.split_once('$') {
        Some((id, after)) => (id, Some(after)),
        None => (rest, None),
    };
    let valid =
        (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    valid.then_some((id, after))
}

/// `$6$SALT$HASH`, after the `$6$`.
fn parse_sha512(rest: &str) -> Result<Hash, String> {
    let [salt, digest] = fields(rest).ok_or("$6$ hash: expected $6$SALT$HASH")?;
    Ok(Hash::Sha512 {
        salt: decode("$6$", "salt", salt, 1, MAX_SALT_LEN)?,
        digest: decode("$6$", "hash", digest, DIGEST_LEN, DIGEST_LEN)?,
    })
}

/// `$7$ITERATIONS$SALT$HASH`, after the `$7$`.
fn parse_pbkdf2(rest: &str) -> Result<Hash, String> {
    let [iterations, salt, digest] =
        fields(rest).ok_or("$7$ hash: expected $7$ITERATIONS$SALT$HASH")?;
    let iterations = number(iterations)
        .filter(|n| (1..=MAX_PBKDF2_ITERATIONS).contains(n))
        .ok_or_else(|| {
            format!(
                "$7$ hash: iterations '{iterations}' is not a number from 1 to {MAX_PBKDF2_ITERATIONS}"
            )
        })?;
    Ok(Hash::Pbkdf2 {
        iterations,
        salt: decode("$7$", "salt", salt, 1, MAX_SALT_LEN)?,
        digest: decode("$7$", "hash", digest, DIGEST_LEN, DIGEST_LEN)?,
    })
}

/// `[v=V$]m=M,t=T,p=P$SALT$HASH`, after the `$argon2id$`.
fn parse_argon2id(rest: &str) -> Result<Hash, String> {
    const KIND: &str = "$argon2id$";
    let malformed = || format!("{KIND} hash: expected {KIND}v=19$m=M,t=T,p=P$SALT$HASH");
    let (version, rest) = match rest.split_once('$') {
        Some((v, after)) if v.starts_with("v=") => {
            let version = match v {
                "v=19" => Version::V0x13,
                "v=16" => Version::V0x10,
                _ => return Err(format!("{KIND} hash: version {v}, expected v=19 or v=16")),
            };
            (version, after)
        }
        _ => (Version::V0x10, rest),
    };
    let [costs, salt, digest] = fields(rest).ok_or_else(malformed)?;
    let [m, t, p] = costs
        .strip_prefix("m=")
        .and_then(|c| c.split_once(",t="))
        .and_then(|(m, c)| c.split_once(",p=").map(|(t, p)| [m, t, p]))
        .ok_or_else(|| format!("{KIND} hash: expected m=M,t=T,p=P, found '{costs}'"))?;
    let cost = |name: &str, value: &str| {
        number(value).ok_or_else(|| format!("{KIND} hash: {name}={value} is not a number"))
    };
    let (m, t, p) = (cost("m", m)?, cost("t", t)?, cost("p", p)?);
    if m > MAX_ARGON2_MEMORY_KIB {
        return Err(format!(
            "{KIND} hash: m={m} KiB is above midge's bound of {MAX_ARGON2_MEMORY_KIB} KiB"
        ));
    }
    if u64::from(m) * u64::from(t) > MAX_ARGON2_WORK {
        return Err(format!(
            "{KIND} hash: m times t = {} is above midge's bound of {MAX_ARGON2_WORK}",
            u64::from(m) * u64::from(t)
        ));
    }
    if p > MAX_ARGON2_LANES {
        return Err(format!(
            "{KIND} hash: p={p} is above midge's bound of {MAX_ARGON2_LANES}"
        ));
    }
    let salt = decode(KIND, "salt", salt, argon2::MIN_SALT_LEN, MAX_SALT_LEN)?;
    let digest = decode(KIND, "hash", digest, MIN_ARGON2_OUTPUT, MAX_ARGON2_OUTPUT)?;
    let params = Params::new(m, t, p, Some(digest.len()))
        .map_err(|e| format!("{KIND} hash: m={m},t={t},p={p}: {e}"))?;
    Ok(Hash::Argon2id {
        version,
        params,
        salt,
        digest,
    })
}

/// The `$`-separated fields of `rest`, when there are exactly `N`.
fn fields<const N: usize>(rest: &str) -> Option<[&str; N]> {
    let mut out = [""; N];
    let mut parts = rest.split('$');
    for slot in &mut out {
        *slot = parts.next()?;
    }
    parts.next().is_none().then_some(out)
}

/// A decimal number of ASCII digits only (no sign, no blanks).
fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Decodes the base64 `what` ("salt" or "hash") of a `kind` hash and checks
/// that it is `min` to `max` bytes long; the length is checked on the text
/// first, so an overlong field is refused without decoding it.
fn decode(kind: &str, what: &str, text: &str, min: usize, max: usize) -> Result<Vec<u8>, String> {
    let bounds = if min == max {
        format!("{max}")
    } else {
        format!("{min} to {max}")
    };
    if text.is_empty() {
        return Err(format!("{kind} hash: empty {what}"));
    }
    if text.len() > max.div_ceil(3) * 4 {
        return Err(format!(
            "{kind} hash: {what} longer than {max} bytes (expected {bounds})"
        ));
    }
    let bytes = LENIENT
        .decode(text)
        .map_err(|_| format!("{kind} hash: {what} is not base64"))?;
    if !(min..=max).contains(&bytes.len()) {
        return Err(format!(
            "{kind} hash: {what} of {} bytes, expected {bounds}",
            bytes.len()
        ));
    }
    Ok(bytes)
}
