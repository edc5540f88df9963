//! `magasin admin reset-password USER --data-dir DIR`: the way back into a chain whose
//! administrators are all lost (forgotten passwords, deactivated in an older version). It
//! runs on a stopped instance, the owner of the reference data: it journals a new,
//! temporary password for USER (reactivating them) as [`UserChangeKind::PasswordRecovered`],
//! by no one (the person at the console holds the data directory, which is the right to
//! every byte of it anyway). The user must choose a new password at their next login, and
//! the change is in the log of user changes like any other.
//!
//! [`UserChangeKind::PasswordRecovered`]: crate::domain::UserChangeKind::PasswordRecovered

use std::path::Path;

use crate::actors::now;
use crate::auth::{AuthError, hash_password, temporary_password};
use crate::cluster::{CHAIN_KEY, ClusterSettings, owner};
use crate::domain::{ChainError, ChainEvent, ChainState, ChangedBy, UserChange, Username};
use crate::persistence::integrity::{GENESIS, link};
use crate::persistence::{
    Backend, DataDirLock, JournalError, StoredEvent, StreamId, codec, recover_stream,
};

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("{0} is not a username (3 to 32 of a-z, 0-9, '.', '-', '_')")]
    Username(String),
    #[error(
        "this instance does not hold the reference data: run the command on {0}'s data directory"
    )]
    NotOwner(String),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Rule(#[from] ChainError),
    #[error(transparent)]
    Hashing(#[from] AuthError),
}

/// Gives `username` a temporary password on the stopped instance at `data_dir`, and
/// answers it.
pub fn reset_password(
    backend: Backend,
    data_dir: &Path,
    cluster: &ClusterSettings,
    username: &str,
) -> Result<String, RecoveryError> {
    let username =
        Username::parse(username).map_err(|_| RecoveryError::Username(username.to_owned()))?;
    if let Some(chain_owner) = owner(CHAIN_KEY, &cluster.instances)
        && chain_owner != cluster.instance
    {
        return Err(RecoveryError::NotOwner(chain_owner.to_owned()));
    }
    let _lock = DataDirLock::acquire(data_dir)?;
    let journal = crate::persistence::open(backend, data_dir)?;
    let stream = StreamId::chain();
    let (chain, seq, _) = recover_stream(
        journal.as_ref(),
        None,
        &stream,
        |s: &mut ChainState, e: ChainEvent| s.apply(&e),
    )?;
    let temporary = temporary_password();
    let change = UserChange::TemporaryPassword {
        hash: hash_password(&temporary)?,
        recovery: true,
    };
    let stamp = ChangedBy {
        by: None,
        at: now(),
    };
    if let Some(event) = chain.decide_change_user(&username, change, stamp)? {
        let payload = codec::encode_event(&event).map_err(JournalError::from)?;
        let head = journal
            .heads()?
            .get(&stream)
            .map_or(GENESIS, |(_, hash)| *hash);
        let event = StoredEvent {
            hash: link(&head, &stream, seq + 1, &payload),
            stream,
            seq: seq + 1,
            payload,
        };
        journal.commit(&[event], &[])?;
    }
    journal.close()?;
    Ok(temporary)
}
