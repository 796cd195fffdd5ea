//! Who is subscribed to what, and the task that turns the store's change
//! feed into their notifications.
//!
//! Each subscriber (a legacy session, or one `subscriptions/listen`) has an
//! inbox: the URIs updated since it last sent, and whether a list changed.
//! The feed task only adds to inboxes (never waits on a client); each
//! subscriber's own task sends what its inbox holds. A slow client so
//! costs at most one entry per URI it subscribed to, and gets each update
//! once however many writes it missed (the MCP notification names the
//! resource, not the value).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use rmcp::RoleServer;
use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::{RequestContext, SubscriptionContext, SubscriptionSendError};
use tokio::sync::{Notify, watch};

use crate::error::{Error, Result};
use crate::store::Store;
use crate::tools::caller_scope;
use crate::watch::{Change, ChangeKind, Watched, Watcher};

/// What a subscriber has yet to be told.
#[derive(Default)]
struct Pending {
    uris: BTreeSet<String>,
    list_changed: bool,
}

#[derive(Default)]
struct Inbox {
    pending: Mutex<Pending>,
    notify: Notify,
}

impl Inbox {
    fn add(&self, uri: Option<&str>, list_changed: bool) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(uri) = uri {
            pending.uris.insert(uri.to_owned());
        }
        pending.list_changed |= list_changed;
        drop(pending);
        self.notify.notify_one();
    }

    fn take(&self) -> Pending {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

struct Sub {
    /// Stored key to the URI the subscriber knows it by.
    keys: HashMap<String, String>,
    /// Prefixes of the keys whose records appearing or disappearing is a
    /// list change for this subscriber (its scope's).
    lists: Vec<String>,
    inbox: Arc<Inbox>,
}

#[derive(Default)]
struct State {
    subs: HashMap<u64, Sub>,
    /// Legacy sessions (by the identity of their handshake, and the
    /// caller's scope: a session is no key to another user's sub) to their sub.
    sessions: HashMap<(usize, String), u64>,
    next: u64,
}

pub(super) struct Hub {
    store: Store,
    state: Mutex<State>,
    /// Whether the feed task runs (it does from the first subscriber on).
    feed_started: Mutex<bool>,
    /// Dropped with the hub: the feed task then ends.
    stop: watch::Sender<()>,
}

/// A legacy session's identity: its handshake info, held once per session,
/// with the caller's scope. `None` without a session that lasts: a
/// stateless HTTP request (no `Mcp-Session-Id`) gets a peer of its own.
fn session_of(context: &RequestContext<RoleServer>) -> Option<(usize, String)> {
    #[cfg(feature = "http")]
    if let Some(parts) = context.extensions.get::<http::request::Parts>()
        && !parts.headers.contains_key("mcp-session-id")
    {
        return None;
    }
    let info = context.peer.peer_info()?;
    let scope = caller_scope(&context.extensions)
        .map(|s| s.key_prefix().to_owned())
        .unwrap_or_default();
    Some((Arc::as_ptr(&info).cast::<()>() as usize, scope))
}

/// How far back (ms of the server's clock) a feed started on a server
/// begins; see [`Hub::ensure_feed`].
const REPLAY_MS: u64 = 1_000;

/// The most URIs one subscriber may subscribe to.
pub(super) const MAX_SUBSCRIBED: usize = 1_000;

impl Hub {
    pub(super) fn new(store: Store) -> Arc<Self> {
        Arc::new(Self {
            store,
            state: Mutex::new(State::default()),
            feed_started: Mutex::new(false),
            stop: watch::Sender::new(()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the feed task, once: from now on, changes reach inboxes. An
    /// error (the store cannot be read) is the caller's, and the next
    /// subscriber tries again. On a server the feed's first read goes to
    /// tokio's blocking pool (it may wait on the network).
    pub(super) async fn ensure_feed(self: &Arc<Self>) -> Result<()> {
        if self.feed_running() {
            return Ok(());
        }
        let watcher = if self.store.url().is_some() {
            // On a server the feed starts in `listen`, after the client was
            // told it listens: it starts a second back (stream ids are the
            // server's milliseconds), so a change made just after the ack is
            // told (one made just before may be told too: a notification
            // only says "read it again").
            crate::op::read_with(&self.store, |store| {
                let now = store.watch("")?.position();
                store.watch_from("", now.saturating_sub(REPLAY_MS << 20))
            })
            .await?
        } else {
            self.store.watch("")?
        };
        self.start_feed(watcher);
        Ok(())
    }

    /// [`Self::ensure_feed`] on an embedded store, from sync code.
    pub(super) fn ensure_feed_now(self: &Arc<Self>) -> Result<()> {
        if !self.feed_running() {
            self.start_feed(self.store.watch("")?);
        }
        Ok(())
    }

    fn feed_running(&self) -> bool {
        *self
            .feed_started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs the feed on `watcher`, unless another one started meanwhile.
    fn start_feed(self: &Arc<Self>, watcher: Watcher) {
        let mut started = self
            .feed_started
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !*started {
            tokio::spawn(feed(Arc::downgrade(self), watcher, self.stop.subscribe()));
            *started = true;
        }
    }

    fn add(&self, sub: Sub) -> u64 {
        let mut state = self.state();
        state.next += 1;
        let id = state.next;
        state.subs.insert(id, sub);
        id
    }

    fn remove(&self, id: u64) {
        let mut state = self.state();
        state.subs.remove(&id);
        state.sessions.retain(|_, sub| *sub != id);
    }

    /// The sub of a legacy session, made (with the task that sends its
    /// notifications through the session's peer) on first use.
    fn session_sub<R>(
        self: &Arc<Self>,
        context: &RequestContext<RoleServer>,
        f: impl FnOnce(&mut Sub) -> R,
    ) -> Option<R> {
        let session = session_of(context)?;
        let mut state = self.state();
        let id = match state.sessions.get(&session) {
            Some(id) => *id,
            None => {
                state.next += 1;
                let id = state.next;
                let inbox = Arc::new(Inbox::default());
                state.subs.insert(
                    id,
                    Sub {
                        keys: HashMap::new(),
                        lists: Vec::new(),
                        inbox: inbox.clone(),
                    },
                );
                state.sessions.insert(session, id);
                tokio::spawn(send_to_peer(
                    Arc::downgrade(self),
                    id,
                    inbox,
                    context.peer.clone(),
                ));
                id
            }
        };
        state.subs.get_mut(&id).map(f)
    }

    /// A legacy session listed resources: it hears of list changes.
    pub(super) async fn note_lister(
        self: &Arc<Self>,
        context: &RequestContext<RoleServer>,
        lists: Vec<String>,
    ) {
        if session_of(context).is_none() {
            return;
        }
        if let Err(err) = self.ensure_feed().await {
            tracing::debug!(%err, "no list_changed notifications for this session");
            return;
        }
        self.session_sub(context, |sub| sub.lists = lists);
    }

    /// Legacy `resources/subscribe`.
    pub(super) async fn subscribe(
        self: &Arc<Self>,
        context: &RequestContext<RoleServer>,
        key: String,
        uri: String,
        lists: Vec<String>,
    ) -> Result<()> {
        self.ensure_feed().await?;
        let added = self.session_sub(context, |sub| {
            if sub.keys.len() >= MAX_SUBSCRIBED && !sub.keys.contains_key(&key) {
                return Err(Error::Unsupported(format!(
                    "this session is subscribed to {MAX_SUBSCRIBED} resources, the most it may be"
                )));
            }
            sub.keys.insert(key, uri);
            sub.lists = lists;
            Ok(())
        });
        added.unwrap_or_else(|| {
            Err(Error::Unsupported(
                "resources/subscribe needs a session that lasts (opened with initialize, over \
                 stdio or an HTTP server with legacy sessions); otherwise use \
                 subscriptions/listen (protocol 2026-07-28)"
                    .into(),
            ))
        })
    }

    /// Legacy `resources/unsubscribe`.
    pub(super) fn unsubscribe(self: &Arc<Self>, context: &RequestContext<RoleServer>, key: &str) {
        let Some(session) = session_of(context) else {
            return;
        };
        let mut state = self.state();
        if let Some(id) = state.sessions.get(&session).copied()
            && let Some(sub) = state.subs.get_mut(&id)
        {
            sub.keys.remove(key);
        }
    }

    /// A `subscriptions/listen`: sends until the client cancels it or the
    /// sink closes.
    pub(super) async fn listen(
        self: &Arc<Self>,
        context: SubscriptionContext,
        keys: Vec<(String, String)>,
        lists: Vec<String>,
    ) -> Result<()> {
        self.ensure_feed().await?;
        let inbox = Arc::new(Inbox::default());
        let id = self.add(Sub {
            keys: keys.into_iter().collect(),
            lists,
            inbox: inbox.clone(),
        });
        let sink = context.sink().clone();
        'listen: loop {
            tokio::select! {
                () = context.cancelled() => break,
                () = inbox.notify.notified() => {}
            }
            let pending = inbox.take();
            let sends = pending
                .uris
                .into_iter()
                .map(Some)
                .chain(pending.list_changed.then_some(None));
            for uri in sends {
                let sent = match uri {
                    Some(uri) => sink.notify_resource_updated(uri).await,
                    None => sink.notify_resource_list_changed().await,
                };
                match sent {
                    Ok(()) | Err(SubscriptionSendError::NotificationNotAccepted(_)) => {}
                    Err(err) => {
                        tracing::debug!(%err, "a listening client is gone");
                        break 'listen;
                    }
                }
            }
        }
        self.remove(id);
        Ok(())
    }

    /// Puts a committed change in the inboxes it concerns.
    fn dispatch(&self, change: &Change) {
        let appeared_or_went = match change.kind {
            ChangeKind::Put => change.created,
            ChangeKind::Delete | ChangeKind::Expire => true,
        };
        let state = self.state();
        for sub in state.subs.values() {
            let uri = sub.keys.get(&change.key).map(String::as_str);
            let listed =
                appeared_or_went && sub.lists.iter().any(|p| change.key.starts_with(p.as_str()));
            if uri.is_some() || listed {
                sub.inbox.add(uri, listed);
            }
        }
    }

    /// One item of the feed into the inboxes.
    fn deliver(&self, item: Watched) {
        match item {
            Watched::Change(change) => self.dispatch(&change),
            Watched::Lagged { missed, .. } => {
                tracing::warn!(
                    missed,
                    "resource notifications fell behind the change log: telling every subscriber to read again"
                );
                self.resync();
            }
        }
    }

    /// The feed lagged: every subscriber is told everything may have changed.
    fn resync(&self) {
        let state = self.state();
        for sub in state.subs.values() {
            for uri in sub.keys.values() {
                sub.inbox.add(Some(uri), false);
            }
            if !sub.lists.is_empty() {
                sub.inbox.add(None, true);
            }
        }
    }
}

/// Turns the store's changes into inbox entries until the hub is gone. A
/// store that cannot be read (a Redis server down) is logged once and read
/// again every second from where the feed was: subscriptions are kept, and
/// what changed meanwhile is told (or, past the log's bound, a re-read).
async fn feed(hub: Weak<Hub>, mut watcher: Watcher, mut stop: watch::Receiver<()>) {
    let mut failing = false;
    loop {
        let item = tokio::select! {
            _ = stop.changed() => return,
            item = watcher.next() => item,
        };
        let Some(hub) = hub.upgrade() else {
            return;
        };
        match item {
            Ok(item) if failing => {
                tracing::info!("resource notifications: the change feed reads again");
                failing = false;
                hub.deliver(item);
            }
            Ok(item) => hub.deliver(item),
            Err(err) => {
                if !failing {
                    tracing::error!(%err, "resource notifications: the change feed cannot be read; trying again every second, subscriptions kept");
                }
                failing = true;
                drop(hub);
                tokio::select! {
                    _ = stop.changed() => return,
                    () = tokio::time::sleep(FEED_RETRY) => {}
                }
            }
        }
    }
}

/// How long the feed waits before reading a failing store again.
const FEED_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// How often a legacy session's sender looks whether its client is gone
/// (nothing tells it otherwise until it sends).
const SESSION_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Sends a legacy session's notifications through its peer, until the
/// session is gone (or the hub).
async fn send_to_peer(
    hub: Weak<Hub>,
    id: u64,
    inbox: Arc<Inbox>,
    peer: rmcp::service::Peer<RoleServer>,
) {
    loop {
        tokio::select! {
            () = inbox.notify.notified() => {}
            () = tokio::time::sleep(SESSION_CHECK) => {
                if peer.is_transport_closed() || hub.strong_count() == 0 {
                    if let Some(hub) = hub.upgrade() {
                        hub.remove(id);
                    }
                    return;
                }
                continue;
            }
        }
        let pending = inbox.take();
        let mut gone = false;
        for uri in pending.uris {
            let params = ResourceUpdatedNotificationParam::new(uri);
            gone |= peer.notify_resource_updated(params).await.is_err();
        }
        if pending.list_changed {
            gone |= peer.notify_resource_list_changed().await.is_err();
        }
        if gone || peer.is_transport_closed() {
            tracing::debug!("a subscribed session is gone");
            if let Some(hub) = hub.upgrade() {
                hub.remove(id);
            }
            return;
        }
    }
}
