//! Checkpoints (c2sp.org/tlog-checkpoint) signed as notes (c2sp.org/signed-note, Ed25519), and
//! witness cosignatures (c2sp.org/tlog-cosignature, `cosignature/v1`, key ID algorithm 0x04).
//!
//! Keys are stored in the note key formats: a signer key
//! `PRIVATE+KEY+<name>+<id>+<base64(alg || seed)>` and a verifier key (vkey)
//! `<name>+<id>+<base64(alg || public key)>`.

use crate::error::LedgerError;
use crate::merkle::Hash;
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use signed_note::{
    Note, NoteError, Signer, StandardSigner, StandardVerifier, Verifier, VerifierList, key_id,
};
use std::time::{SystemTime, UNIX_EPOCH};
use tlog_tiles::Checkpoint;

const ALG_ED25519: u8 = 0x01;
const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The log's checkpoint signing key.
pub struct CheckpointSigner {
    signer: StandardSigner,
    vkey: String,
    name: String,
}

impl CheckpointSigner {
    /// Generates a new key for the log named `origin` (the checkpoint origin line); returns the
    /// signer and its encoded private key (to be stored with mode 0600).
    pub fn generate(origin: &str) -> Result<(CheckpointSigner, String), LedgerError> {
        let (skey, _) = signed_note::generate_key(&mut rand::rngs::OsRng, origin);
        Ok((Self::from_skey(&skey)?, skey))
    }

    /// Loads a signer from an encoded private key.
    pub fn from_skey(skey: &str) -> Result<CheckpointSigner, LedgerError> {
        let bad = |why: String| LedgerError::Key { path: "<signer key>".into(), why };
        let signer = StandardSigner::new(skey.trim()).map_err(|e| bad(e.to_string()))?;
        let b64 = skey.trim().splitn(5, '+').nth(4).unwrap_or_default();
        let raw = BASE64_STANDARD.decode(b64).map_err(|e| bad(e.to_string()))?;
        let seed: [u8; 32] = raw.get(1..).and_then(|s| s.try_into().ok()).ok_or_else(|| bad("bad key length".into()))?;
        let vk = SigningKey::from_bytes(&seed).verifying_key();
        let name = signer.name().to_owned();
        let vkey = signed_note::new_ed25519_verifier_key(&name, &vk);
        Ok(CheckpointSigner { signer, vkey, name })
    }

    /// The verifier key in note vkey format.
    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// The key name, which is also the log origin.
    pub fn origin(&self) -> &str {
        &self.name
    }

    /// Signs a checkpoint for `size` and `root`.
    pub fn sign(&self, size: u64, root: &Hash) -> Result<SignedCheckpoint, LedgerError> {
        let cp = Checkpoint::new(&self.name, size, *root, "")
            .map_err(|e| LedgerError::Checkpoint(e.to_string()))?;
        let mut note = Note::new(&cp.to_bytes(), &[]).map_err(|e| LedgerError::Checkpoint(e.to_string()))?;
        note.add_sigs(&[&self.signer]).map_err(|e| LedgerError::Checkpoint(e.to_string()))?;
        Ok(SignedCheckpoint { note: note.to_bytes(), size, root: *root, origin: self.name.clone() })
    }
}

/// A witness cosigner key (c2sp.org/tlog-cosignature, Ed25519 `cosignature/v1`).
pub struct Cosigner {
    name: String,
    key: SigningKey,
    id: u32,
}

impl Cosigner {
    /// Generates a new cosigner key named `name`; returns it and its encoded private key.
    pub fn generate(name: &str) -> (Cosigner, String) {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let c = Cosigner::new(name, key);
        let skey = format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            name,
            c.id,
            BASE64_STANDARD.encode([&[ALG_COSIGNATURE_V1][..], &c.key.to_bytes()].concat())
        );
        (c, skey)
    }

    fn new(name: &str, key: SigningKey) -> Cosigner {
        let pubkey = [&[ALG_COSIGNATURE_V1][..], key.verifying_key().as_bytes()].concat();
        Cosigner { name: name.to_owned(), id: key_id(name, &pubkey), key }
    }

    /// Loads a cosigner from its encoded private key.
    pub fn from_skey(skey: &str) -> Result<Cosigner, LedgerError> {
        let bad = |why: &str| LedgerError::Key { path: "<cosigner key>".into(), why: why.into() };
        let parts: Vec<&str> = skey.trim().splitn(5, '+').collect();
        let [p1, p2, name, id, b64] = parts[..] else { return Err(bad("not PRIVATE+KEY+name+id+key")) };
        if p1 != "PRIVATE" || p2 != "KEY" {
            return Err(bad("not a private key"));
        }
        let raw = BASE64_STANDARD.decode(b64).map_err(|_| bad("bad base64"))?;
        if raw.first() != Some(&ALG_COSIGNATURE_V1) || raw.len() != 33 {
            return Err(bad("not an Ed25519 cosignature/v1 key"));
        }
        let c = Cosigner::new(name, SigningKey::from_bytes(raw[1..].try_into().unwrap()));
        if format!("{:08x}", c.id) != id {
            return Err(bad("key id does not match the key"));
        }
        Ok(c)
    }

    /// The cosigner's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key: `<name>+<id>+base64(0x04 || public key)`.
    pub fn vkey(&self) -> String {
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.id,
            BASE64_STANDARD.encode([&[ALG_COSIGNATURE_V1][..], self.key.verifying_key().as_bytes()].concat())
        )
    }

    /// Cosigns a checkpoint body (the note text, signatures excluded) at `timestamp` (Unix
    /// seconds) and returns the note signature line `— <name> <base64(id || ts || sig)>\n`.
    pub fn cosign(&self, checkpoint_text: &[u8], timestamp: u64) -> Vec<u8> {
        let sig = TimestampedCosigner { c: self, timestamp }.sign(checkpoint_text).expect("ed25519 signing does not fail");
        signed_note::Signature::new(self.name.clone(), self.id, sig)
            .expect("valid name")
            .to_bytes()
    }
}

fn cosigned_message(timestamp: u64, text: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(text);
    m
}

struct TimestampedCosigner<'a> {
    c: &'a Cosigner,
    timestamp: u64,
}

impl Signer for TimestampedCosigner<'_> {
    fn name(&self) -> &str {
        &self.c.name
    }
    fn key_id(&self) -> u32 {
        self.c.id
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let sig = self.c.key.sign(&cosigned_message(self.timestamp, msg));
        Ok([&self.timestamp.to_be_bytes()[..], &sig.to_bytes()].concat())
    }
}

/// Verifies `cosignature/v1` signatures (key ID algorithm 0x04).
pub struct CosignatureVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl Verifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        if sig.len() != 72 {
            return false;
        }
        let ts = u64::from_be_bytes(sig[..8].try_into().unwrap());
        if ts == 0 || ts > i64::MAX as u64 {
            return false;
        }
        let s = ed25519_dalek::Signature::from_bytes(sig[8..].try_into().unwrap());
        self.key.verify(&cosigned_message(ts, msg), &s).is_ok()
    }
}

/// Builds a verifier from any vkey mamori understands: Ed25519 note keys (0x01) and
/// cosignature/v1 keys (0x04).
pub fn verifier_from_vkey(vkey: &str) -> Result<Box<dyn Verifier + Send + Sync>, LedgerError> {
    let bad = |why: &str| LedgerError::Key { path: format!("vkey {vkey}").into(), why: why.into() };
    // base64 may itself contain '+', so split at most twice.
    let parts: Vec<&str> = vkey.trim().splitn(3, '+').collect();
    let [name, id, b64] = parts[..] else { return Err(bad("not name+id+key")) };
    let raw = BASE64_STANDARD.decode(b64).map_err(|_| bad("bad base64"))?;
    match raw.first() {
        Some(&ALG_ED25519) => Ok(Box::new(StandardVerifier::new(vkey.trim()).map_err(|e| bad(&e.to_string()))?)),
        Some(&ALG_COSIGNATURE_V1) if raw.len() == 33 => {
            let key = VerifyingKey::from_bytes(raw[1..].try_into().unwrap()).map_err(|_| bad("bad public key"))?;
            if format!("{:08x}", key_id(name, &raw)) != id {
                return Err(bad("key id does not match the key"));
            }
            Ok(Box::new(CosignatureVerifier { name: name.to_owned(), id: key_id(name, &raw), key }))
        }
        _ => Err(bad("unsupported key algorithm")),
    }
}

/// A witness cosignature that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    /// The witness's key name.
    pub name: String,
    /// When the witness signed (Unix seconds; `cosignature/v1` carries it, a plain Ed25519
    /// note signature does not).
    pub timestamp: Option<u64>,
}

/// A signed checkpoint: the whole note, and what it says.
#[derive(Clone, Debug, PartialEq)]
pub struct SignedCheckpoint {
    /// The note bytes: checkpoint text, blank line, signature lines.
    pub note: Vec<u8>,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// Origin line.
    pub origin: String,
}

impl SignedCheckpoint {
    /// The checkpoint text (what signatures cover), without signature lines.
    pub fn text(&self) -> Vec<u8> {
        Note::from_bytes(&self.note).map(|n| n.text().to_vec()).unwrap_or_default()
    }

    /// Parses a signed checkpoint and verifies the log's signature with `log_vkey`; returns it and
    /// the names of the `witness_vkeys` whose cosignatures verify. A cosignature line from a
    /// known witness that does not verify is an error (the note is malformed per signed-note).
    pub fn verify(
        note_bytes: &[u8],
        log_vkey: &str,
        witness_vkeys: &[String],
    ) -> Result<(SignedCheckpoint, Vec<String>), LedgerError> {
        Self::verify_with_keys(note_bytes, &[log_vkey.to_owned()], witness_vkeys)
    }

    /// Like [`SignedCheckpoint::verify`], accepting a signature by any of `log_vkeys` (the current
    /// key and keys retired by rotation; all must share the log's name).
    pub fn verify_with_keys(
        note_bytes: &[u8],
        log_vkeys: &[String],
        witness_vkeys: &[String],
    ) -> Result<(SignedCheckpoint, Vec<String>), LedgerError> {
        let (cp, w) = Self::verify_cosignatures(note_bytes, log_vkeys, witness_vkeys)?;
        Ok((cp, w.into_iter().map(|c| c.name).collect()))
    }

    /// Like [`SignedCheckpoint::verify_with_keys`], returning each verified witness
    /// cosignature with the time the witness signed it.
    pub fn verify_cosignatures(
        note_bytes: &[u8],
        log_vkeys: &[String],
        witness_vkeys: &[String],
    ) -> Result<(SignedCheckpoint, Vec<Cosignature>), LedgerError> {
        let cp_err = |why: String| LedgerError::Checkpoint(why);
        let note = Note::from_bytes(note_bytes).map_err(|e| cp_err(format!("not a signed note: {e}")))?;
        let mut list: Vec<Box<dyn Verifier>> = Vec::new();
        let mut log_ids = Vec::new();
        for k in log_vkeys {
            let v = verifier_from_vkey(k)?;
            log_ids.push((v.name().to_owned(), v.key_id()));
            list.push(v);
        }
        let Some(log_name) = log_ids.first().map(|(n, _)| n.clone()) else {
            return Err(cp_err("no log verifier key given".into()));
        };
        if log_ids.iter().any(|(n, _)| *n != log_name) {
            return Err(cp_err("log verifier keys carry different names".into()));
        }
        for w in witness_vkeys {
            list.push(verifier_from_vkey(w)?);
        }
        let is_log = |name: &str, id: u32| log_ids.iter().any(|(n, i)| n == name && *i == id);
        let (verified, _unknown) = note.verify(&VerifierList::new(list)).map_err(|e| match e {
            NoteError::InvalidSignature { name, id } => {
                cp_err(format!("signature by {name} (key {id:08x}) does not verify: the checkpoint was altered or signed by another key"))
            }
            NoteError::UnverifiedNote => cp_err(format!("no signature by the log key {log_name}")),
            other => cp_err(other.to_string()),
        })?;
        if !verified.iter().any(|s| is_log(s.name(), s.id())) {
            return Err(cp_err(format!("no valid signature by the log key {log_name}")));
        }
        let cp = Checkpoint::from_bytes(note.text()).map_err(|e| cp_err(format!("checkpoint text: {e}")))?;
        if cp.origin() != log_name {
            return Err(cp_err(format!("origin {:?} does not match the log key name {log_name:?}", cp.origin())));
        }
        let witnesses: Vec<Cosignature> = verified
            .iter()
            .filter(|s| !is_log(s.name(), s.id()))
            .map(|s| Cosignature {
                name: s.name().to_owned(),
                // cosignature/v1: 8-byte big-endian timestamp, then the Ed25519 signature.
                timestamp: (s.signature().len() == 72).then(|| u64::from_be_bytes(s.signature()[..8].try_into().unwrap())),
            })
            .collect();
        Ok((
            SignedCheckpoint { note: note_bytes.to_vec(), size: cp.size(), root: *cp.hash(), origin: log_name },
            witnesses,
        ))
    }

    /// Adds the signature of `signer` (e.g. a new key during rotation) to this checkpoint.
    pub fn add_signature(&mut self, signer: &CheckpointSigner) -> Result<(), LedgerError> {
        if signer.origin() != self.origin {
            return Err(LedgerError::Checkpoint(format!("key {:?} is not for log {:?}", signer.origin(), self.origin)));
        }
        let mut note = Note::from_bytes(&self.note).map_err(|e| LedgerError::Checkpoint(e.to_string()))?;
        note.add_sigs(&[&signer.signer]).map_err(|e| LedgerError::Checkpoint(e.to_string()))?;
        self.note = note.to_bytes();
        Ok(())
    }

    /// Parses without verifying any signature (for displaying or for a witness that checks the
    /// signature itself).
    pub fn parse_unverified(note_bytes: &[u8]) -> Result<SignedCheckpoint, LedgerError> {
        let note = Note::from_bytes(note_bytes).map_err(|e| LedgerError::Checkpoint(format!("not a signed note: {e}")))?;
        let cp = Checkpoint::from_bytes(note.text()).map_err(|e| LedgerError::Checkpoint(format!("checkpoint text: {e}")))?;
        Ok(SignedCheckpoint { note: note_bytes.to_vec(), size: cp.size(), root: *cp.hash(), origin: cp.origin().to_owned() })
    }

    /// Adds cosignature lines (as returned by a witness) to the note, replacing any earlier line
    /// of the same key.
    pub fn add_cosignature_lines(&mut self, lines: &[u8]) -> Result<(), LedgerError> {
        let mut note = Note::from_bytes(&self.note).map_err(|e| LedgerError::Checkpoint(e.to_string()))?;
        let mut combined = note.to_bytes();
        combined.extend_from_slice(lines);
        let with = Note::from_bytes(&combined).map_err(|e| LedgerError::Checkpoint(format!("bad cosignature lines: {e}")))?;
        note = with;
        self.note = note.to_bytes();
        Ok(())
    }
}

/// Current Unix time in seconds.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_text_is_pinned_and_signature_verifies() {
        let (signer, skey) = CheckpointSigner::generate("example.lg.jp/city").unwrap();
        let root = crate::merkle::leaf_hash(b"x");
        let cp = signer.sign(7, &root).unwrap();
        let text = String::from_utf8(cp.text()).unwrap();
        assert_eq!(text, format!("example.lg.jp/city\n7\n{}\n", BASE64_STANDARD.encode(root.0)));
        // Note: text, blank line, one signature line "— name base64(id||sig)".
        let note = String::from_utf8(cp.note.clone()).unwrap();
        let sig_line = note.strip_prefix(&format!("{text}\n")).unwrap();
        assert!(sig_line.starts_with("— example.lg.jp/city "));
        let sig = BASE64_STANDARD.decode(sig_line.trim_end().rsplit(' ').next().unwrap()).unwrap();
        assert_eq!(sig.len(), 4 + 64);
        assert_eq!(CheckpointSigner::from_skey(&skey).unwrap().vkey(), signer.vkey());
        let (parsed, w) = SignedCheckpoint::verify(&cp.note, signer.vkey(), &[]).unwrap();
        assert_eq!((parsed.size, parsed.root), (7, root));
        assert!(w.is_empty());
        let mut bad = cp.note.clone();
        bad[19] = b'8';
        assert!(SignedCheckpoint::verify(&bad, signer.vkey(), &[]).is_err());
    }

    #[test]
    fn cosignature_format_and_key_id() {
        let (w, skey) = Cosigner::generate("pref.example/witness");
        let vkey = w.vkey();
        // Key ID = SHA-256(name || "\n" || 0x04 || pubkey)[:4] (c2sp tlog-cosignature).
        let raw = BASE64_STANDARD.decode(vkey.splitn(3, '+').nth(2).unwrap()).unwrap();
        assert_eq!(raw[0], 0x04);
        let mut h = sha2::Sha256::default();
        sha2::Digest::update(&mut h, b"pref.example/witness\n");
        sha2::Digest::update(&mut h, &raw);
        let id = u32::from_be_bytes(sha2::Digest::finalize(h)[..4].try_into().unwrap());
        assert!(vkey.contains(&format!("+{id:08x}+")));
        assert_eq!(Cosigner::from_skey(&skey).unwrap().vkey(), vkey);

        let (log, _) = CheckpointSigner::generate("example.lg.jp/city").unwrap();
        let mut cp = log.sign(3, &crate::merkle::leaf_hash(b"a")).unwrap();
        let line = w.cosign(&cp.text(), 1_700_000_000);
        let sig = BASE64_STANDARD.decode(String::from_utf8(line.clone()).unwrap().trim_end().rsplit(' ').next().unwrap()).unwrap();
        assert_eq!(&sig[4..12], &1_700_000_000u64.to_be_bytes());
        cp.add_cosignature_lines(&line).unwrap();
        let (_, names) = SignedCheckpoint::verify(&cp.note, log.vkey(), &[vkey]).unwrap();
        assert_eq!(names, vec!["pref.example/witness".to_owned()]);
        // The cosignature must not verify as a plain Ed25519 note signature of the same key.
        let vk = verifier_from_vkey(&w.vkey()).unwrap();
        assert!(!vk.verify(&cp.text(), &sig[4..12].iter().chain(&[0u8; 64]).copied().collect::<Vec<_>>()));
    }
}
