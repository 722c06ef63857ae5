//! Several servers, one seed object: a `Contact` carries a copy from a
//! directory server and references from a presence server and a
//! workstation, each obtained through its own session. Each link goes
//! through a fault proxy; losing one server leaves the others' pieces
//! working, and each piece heals through its own session.

use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use pb::{Client, Error, Registry, Server, SessionEvent};
use pb_examples::aurora::{UserError, UserManager, Users};
use pb_examples::seed::{Inbox, Inboxes, Presence, PresenceService, Presences, Sources, Workstation};
use pb_tests::fault::FaultProxy;
use pb_tests::session::{fast, kind, next_event, rebind};

struct World {
    directory: (Server, FaultProxy),
    presence: (Server, FaultProxy),
    workstation: (Server, FaultProxy),
    presences: Arc<Presences>,
    inboxes: Arc<Inboxes>,
    sources: Sources,
}

async fn behind_proxy(root: Registry) -> (Server, FaultProxy) {
    let server = Server::bind("127.0.0.1:0", root).await.unwrap();
    let proxy = FaultProxy::start(server.local_addr()).await.unwrap();
    (server, proxy)
}

async fn session(proxy: &FaultProxy) -> Client {
    Client::builder().config(fast()).connect_tcp(proxy.addr().to_string()).await.unwrap()
}

async fn world() -> World {
    let presences = Arc::new(Presences::default());
    let inboxes = Arc::new(Inboxes::default());
    let directory =
        behind_proxy(Registry::local().serve::<dyn UserManager>(Arc::new(Users::with_sample_users()))).await;
    let presence = behind_proxy(Registry::local().serve::<dyn PresenceService>(presences.clone())).await;
    let workstation = behind_proxy(Registry::local().serve::<dyn Workstation>(inboxes.clone())).await;
    let sources = Sources {
        directory: session(&directory.1).await,
        presence: session(&presence.1).await,
        workstation: session(&workstation.1).await,
    };
    World { directory, presence, workstation, presences, inboxes, sources }
}

type Events = std::pin::Pin<Box<dyn futures_util::Stream<Item = SessionEvent> + Send>>;

fn events(c: &Client) -> Events {
    let mut e: Events = Box::pin(c.events());
    assert_eq!(kind(&e.next().now_or_never().flatten().unwrap()), "connected");
    e
}

fn quiet(events: &mut Events) {
    if let Some(e) = events.next().now_or_never() {
        panic!("unexpected event {e:?}");
    }
}

#[tokio::test]
async fn losing_one_server_leaves_the_other_pieces_working_and_it_heals_alone() {
    let w = world().await;
    let contact = w.sources.contact(1).await.unwrap();
    w.presences.of(1).set_online(true).await.unwrap();
    assert!(contact.is_online().await.unwrap());
    assert_eq!(contact.send_message("hi").await.unwrap(), 1);
    // Each session tracks its registry root, its lookup and the replayed piece.
    assert_eq!(w.sources.presence.tracked(), 3);
    assert_eq!(w.sources.workstation.tracked(), 3);
    let (mut dir_ev, mut pres_ev, mut ws_ev) =
        (events(&w.sources.directory), events(&w.sources.presence), events(&w.sources.workstation));

    w.presence.1.cut();
    pb_tests::eventually("the presence session notices", || !w.sources.presence.is_connected()).await;
    assert_eq!(contact.is_online().await, Err(UserError::Pb(Error::Disconnected)));
    assert_eq!(contact.send_message("still?").await.unwrap(), 2, "the workstation's piece works");
    assert_eq!(contact.user.name, "alice");
    let users = w.sources.directory.registry().unwrap().get::<dyn UserManager>().await.unwrap();
    assert_eq!(users.get_user(2).await.unwrap().name, "bob", "the directory session works");

    w.presence.1.heal();
    // The presence server never went away: its session resumes, nothing
    // is replayed.
    assert_eq!(kind(&next_event(&mut pres_ev).await), "resumed");
    assert!(contact.is_online().await.unwrap(), "the same Contact's presence works again");
    assert_eq!(w.inboxes.of(1).messages().await.unwrap().len(), 2);
    quiet(&mut dir_ev);
    quiet(&mut ws_ev);
    drop(w.directory);
}

#[tokio::test]
async fn a_restarted_server_heals_its_piece_with_new_objects_and_the_others_are_untouched() {
    let w = world().await;
    let contact = w.sources.contact(3).await.unwrap();
    let (mut pres_ev, mut ws_ev) = (events(&w.sources.presence), events(&w.sources.workstation));

    // The workstation process dies and a new one starts on the same address.
    let addr = w.workstation.0.local_addr();
    w.workstation.0.abort();
    assert_eq!(kind(&next_event(&mut ws_ev).await), "disconnected");
    assert_eq!(contact.send_message("lost").await, Err(UserError::Pb(Error::Disconnected)));
    assert!(!contact.is_online().await.unwrap(), "presence still answers");

    let fresh = Arc::new(Inboxes::default());
    let _server = rebind(addr, Registry::local().serve::<dyn Workstation>(fresh.clone())).await;
    assert_eq!(kind(&next_event(&mut ws_ev).await), "reconnected");
    assert_eq!(contact.send_message("again").await.unwrap(), 1, "a fresh inbox on the new process");
    assert_eq!(fresh.of(3).messages().await.unwrap(), ["again".to_string()]);
    assert!(w.inboxes.of(3).messages().await.unwrap().is_empty(), "the old process's inbox got nothing");
    quiet(&mut pres_ev);
}
