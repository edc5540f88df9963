//! The durability protocol, written once for every actor that owns a journaled stream (a
//! store, a product of the logistics center, the chain): decide → apply in memory → hand
//! the events to the journal writer → answer when durable; and recovery replays the same
//! `apply` over the latest snapshot.
//!
//! Why the answer is a future beside the mailbox and not `ctx.wait`: waiting would freeze
//! every message of the actor for one fsync each (every till of a store). The actor goes
//! on deciding against its in-memory state while earlier commits are pending; answers
//! still leave in order, because the writer acknowledges a stream's appends in order.
//!
//! Not to break: nothing is answered before the events it depends on are durable, a
//! no-op or a replay included (the original may still be in flight); and a failed commit
//! stops the actor, whose memory is then ahead of the disk (the registry recovers it from
//! the journal).

use actix::prelude::*;
use std::future::Future;
use tokio::sync::watch;

use super::cadence::SnapshotCadence;
use super::watermark;
use crate::domain::DomainEvent;
use crate::persistence::{Journal, JournalError, Snapshot, StreamId};

/// A state rebuilt from one stream's events.
pub(super) trait StreamState: Snapshot + 'static {
    type Event;
    fn apply(&mut self, event: &Self::Event);
}

/// One journaled stream as its actor holds it: the state, its position, when it is next
/// snapshotted, and how far it is durable.
pub(super) struct Durable<S: StreamState> {
    pub(super) state: S,
    stream: StreamId,
    /// The last seq applied; ahead of the durable one while commits are pending.
    seq: u64,
    cadence: SnapshotCadence,
    journal: Journal,
    durable: watch::Sender<u64>,
    /// How an event of this stream is journaled (which store or product it belongs to).
    journaled: fn(&StreamId, S::Event) -> DomainEvent,
}

impl<S: StreamState> Durable<S> {
    /// A stream recovered at `seq`, `unsnapshotted` events after its latest snapshot.
    pub(super) fn recovered(
        stream: StreamId,
        state: S,
        seq: u64,
        unsnapshotted: u64,
        journal: Journal,
        snapshot_every: u64,
        journaled: fn(&StreamId, S::Event) -> DomainEvent,
    ) -> Self {
        let mut cadence = SnapshotCadence::new(snapshot_every);
        cadence.resume(unsnapshotted);
        Self {
            state,
            stream,
            seq,
            cadence,
            journal,
            durable: watch::Sender::new(seq),
            journaled,
        }
    }

    pub(super) fn seq(&self) -> u64 {
        self.seq
    }

    /// Durable sequence updates, for readers waiting for a write or a copy to land.
    pub(super) fn watch(&self) -> watch::Receiver<u64> {
        self.durable.subscribe()
    }

    /// Applies `events` in memory and queues them (with a snapshot when one is due) for
    /// the journal; the future resolves with the last seq once they are durable.
    pub(super) fn persist(
        &mut self,
        events: Vec<S::Event>,
    ) -> impl Future<Output = Result<u64, JournalError>> + 'static + use<S> {
        let first = self.seq + 1;
        for event in &events {
            self.state.apply(event);
        }
        self.seq += events.len() as u64;
        let snapshot = self.cadence.due(events.len() as u64).then_some(&self.state);
        let last = self.seq;
        let journaled = self.journaled;
        let events = events
            .into_iter()
            .map(|e| journaled(&self.stream, e))
            .collect();
        let ack = self
            .journal
            .append(self.stream.clone(), first, events, snapshot);
        async move { ack.await.map(|()| last) }
    }

    /// Resolves once everything applied so far is durable; `false` if it never will be
    /// (the actor stopped after a failed commit).
    pub(super) fn settled(&self) -> impl Future<Output = bool> + 'static + use<S> {
        watermark::reached(self.durable.subscribe(), self.seq)
    }

    /// Writes a snapshot of the state now (at graceful shutdown); resolves when durable.
    pub(super) fn snapshot(
        &mut self,
    ) -> impl Future<Output = Result<(), JournalError>> + 'static + use<S> {
        let ack = (self.seq > 0).then(|| {
            self.cadence.taken();
            self.journal
                .snapshot(self.stream.clone(), self.seq, &self.state)
        });
        async move {
            match ack {
                Some(ack) => ack.await,
                None => Ok(()),
            }
        }
    }
}

/// An actor that owns one journaled stream.
pub(super) trait Journaled: Actor<Context = Context<Self>> {
    type State: StreamState;
    fn stream(&mut self) -> &mut Durable<Self::State>;
}

/// Answers `value` once `ack` says durable. A failed commit stops the actor (its memory is
/// ahead of the disk) and answers the error.
pub(super) fn when_durable<A, T, E>(
    ack: impl Future<Output = Result<u64, JournalError>> + 'static,
    value: T,
) -> ResponseActFuture<A, Result<T, E>>
where
    A: Journaled,
    T: 'static,
    E: From<JournalError> + 'static,
{
    Box::pin(ack.into_actor_any().map(move |result, actor: &mut A, ctx| match result {
        Ok(seq) => {
            watermark::raise(&actor.stream().durable, seq);
            Ok(value)
        }
        Err(e) => {
            let stream = actor.stream().stream.clone();
            tracing::error!(%stream, error = %e, "journal append failed; the actor stops and is recovered from its journal");
            ctx.stop();
            Err(E::from(e))
        }
    }))
}

/// Answers `value` once everything the actor applied so far is durable: the answer of a
/// write that journals nothing (a retry, a change already made), which must not overtake
/// the original still in flight. `unavailable` if the actor stops first.
pub(super) fn once_settled<A, T, E>(
    actor: &mut A,
    value: T,
    unavailable: E,
) -> ResponseActFuture<A, Result<T, E>>
where
    A: Journaled,
    T: 'static,
    E: 'static,
{
    let settled = actor.stream().settled();
    Box::pin(
        async move {
            if settled.await {
                Ok(value)
            } else {
                Err(unavailable)
            }
        }
        .into_actor_any(),
    )
}

/// `into_actor` without a reference to the actor (the future is built before the actor
/// is borrowed again).
trait IntoActorAny: Future + Sized {
    fn into_actor_any<A: Actor>(self) -> fut::future::FutureWrap<Self, A> {
        fut::wrap_future(self)
    }
}

impl<F: Future> IntoActorAny for F {}
