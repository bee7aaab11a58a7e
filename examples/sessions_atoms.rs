//! Sessions named by dynamic atoms (`Process.register(self(), :"session_#{id}")`) running
//! into the atom limit.
//!
//! Each session registers under an interned name and ends; its name is released, its atom
//! is not. With a small limit the table fills after a few sessions, and every new session
//! name fails with a typed `SystemLimit` (the BEAM would stop the whole node instead).
//!
//! Run: `cargo run --example sessions_atoms`

use naming_strategies::runtime::{Ctx, ExitReason, Name, Runtime};
use naming_strategies::{InternedNames, Naming, NamingError};

/// A session: handles one message, then ends.
async fn session(mut ctx: Ctx) -> ExitReason {
    let _ = ctx.recv().await;
    ExitReason::Normal
}

#[tokio::main]
async fn main() {
    let rt = Runtime::new();
    let limit = 16;
    let atoms = InternedNames::with_limit(limit);
    println!("atom limit: {limit} (the BEAM's default is 1,048,576)");

    for id in 0.. {
        let name = Name::text(&format!("session_{id}"));
        let p = rt.spawn(session);
        match atoms.register(name.clone(), &p).await {
            Ok(()) => {
                let exited = p.exited();
                if let Err(e) = atoms.send(&name, ()).await {
                    println!("send to {name:?} failed: {e}");
                    p.kill();
                }
                exited.await;
                println!(
                    "session {name:?} ran and ended: live names {}, atoms {}, atom bytes {}",
                    atoms.registered_count().await,
                    atoms.atom_count(),
                    atoms.atom_bytes()
                );
            }
            Err(e @ NamingError::SystemLimit { .. }) => {
                println!("session {name:?} cannot get a name: {e}");
                println!("  typed error: {e:?}");
                p.kill();
                break;
            }
            Err(other) => {
                println!("unexpected error for {name:?}: {other}");
                p.kill();
                break;
            }
        }
    }

    // Names that are atoms already still work: a returning session gets its name back.
    let p = rt.spawn(session);
    match atoms.register(Name::text("session_3"), &p).await {
        Ok(()) => println!("an existing atom (:session_3) can still be registered"),
        Err(e) => println!("unexpected: {e}"),
    }
    println!(
        "live names: {}; atoms: {} ({} bytes), kept for the life of the table",
        atoms.registered_count().await,
        atoms.atom_count(),
        atoms.atom_bytes()
    );
    p.kill();
}
