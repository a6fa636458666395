//! The in-memory baselines: a bare tokio task, a kameo actor and a ractor actor, each
//! holding a `u64` counter and answering reads of it.

use tokio::sync::{mpsc, oneshot};

/// A request to the bare tokio counter.
#[derive(Debug)]
pub enum TokioRequest {
    /// Add to the count, no reply.
    Add(u64),
    /// Reply with the count.
    Get(oneshot::Sender<u64>),
}

/// The floor: a task owning a `u64`, asked through a bounded mpsc (capacity 64, actor-core's
/// default mailbox) with a oneshot for the reply. Must be called inside a tokio runtime.
pub fn spawn_tokio_counter() -> mpsc::Sender<TokioRequest> {
    let (tx, mut rx) = mpsc::channel::<TokioRequest>(64);
    tokio::spawn(async move {
        let mut count = 0u64;
        while let Some(request) = rx.recv().await {
            match request {
                TokioRequest::Add(by) => count += by,
                TokioRequest::Get(reply) => {
                    let _ = reply.send(count);
                }
            }
        }
    });
    tx
}

/// The counter as a kameo 0.22 actor (default bounded mailbox of 64).
pub mod kameo_counter {
    use kameo::Actor;
    use kameo::message::{Context, Message};

    /// The actor and its state.
    #[derive(Actor, Debug, Default)]
    pub struct Counter {
        count: u64,
    }

    /// Adds to the count.
    #[derive(Debug)]
    pub struct Add(pub u64);

    /// Reads the count.
    #[derive(Debug)]
    pub struct Get;

    impl Message<Add> for Counter {
        type Reply = u64;

        async fn handle(&mut self, Add(by): Add, _: &mut Context<Self, u64>) -> u64 {
            self.count += by;
            self.count
        }
    }

    impl Message<Get> for Counter {
        type Reply = u64;

        async fn handle(&mut self, _: Get, _: &mut Context<Self, u64>) -> u64 {
            self.count
        }
    }

    /// Spawns a counter on the current tokio runtime.
    pub fn spawn() -> kameo::actor::ActorRef<Counter> {
        <Counter as kameo::actor::Spawn>::spawn(Counter::default())
    }
}

/// The counter as a ractor 0.16 actor.
pub mod ractor_counter {
    use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

    /// The actor (its state is a `u64`).
    #[derive(Debug)]
    pub struct Counter;

    /// Its messages.
    #[derive(Debug)]
    pub enum Msg {
        /// Adds to the count.
        Add(u64),
        /// Reads the count.
        Get(RpcReplyPort<u64>),
    }

    impl Actor for Counter {
        type Msg = Msg;
        type State = u64;
        type Arguments = ();

        async fn pre_start(&self, _: ActorRef<Msg>, (): ()) -> Result<u64, ActorProcessingErr> {
            Ok(0)
        }

        async fn handle(
            &self,
            _: ActorRef<Msg>,
            msg: Msg,
            count: &mut u64,
        ) -> Result<(), ActorProcessingErr> {
            match msg {
                Msg::Add(by) => *count += by,
                Msg::Get(reply) => {
                    let _ = reply.send(*count);
                }
            }
            Ok(())
        }
    }
}
