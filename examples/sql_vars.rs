//! Ephemeral vars: an actor that keeps a database connection pool in a `#[serde(skip)]`
//! field, built by `on_wake` every time the actor is loaded and never persisted, next to
//! persisted state (the seed's "actors with external SQL databases").
//!
//! The database is SQLite, embedded by this example (a file next to the actor store), so it
//! runs anywhere: `cargo run --example sql_vars`.

use std::sync::{Arc, Mutex};

use actor_core::{Actor, Ctx, System, actions};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

/// A tiny pool: a few SQLite connections, handed out one at a time.
#[derive(Clone)]
struct Pool {
    connections: Arc<Vec<Mutex<Connection>>>,
}

impl Pool {
    fn open(path: &std::path::Path, size: usize) -> rusqlite::Result<Self> {
        let mut connections = Vec::with_capacity(size);
        for _ in 0..size {
            let conn = Connection::open(path)?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            connections.push(Mutex::new(conn));
        }
        Ok(Self {
            connections: Arc::new(connections),
        })
    }

    /// Runs `f` on a free connection (or waits for the first one).
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        for conn in self.connections.iter() {
            if let Ok(conn) = conn.try_lock() {
                return f(&conn);
            }
        }
        let conn = self.connections[0]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&conn)
    }
}

/// A database error, carried to the caller as data.
#[derive(Debug, Serialize, Deserialize)]
struct DbError(String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "database: {}", self.0)
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        Self(e.to_string())
    }
}

/// An order book: the persisted state is a summary; every order row lives in SQL.
#[derive(Actor, Serialize, Deserialize, Default)]
struct Shop {
    orders: u64,
    revenue_cents: u64,
    /// Ephemeral var: rebuilt by `on_wake`, never written to the actor store.
    #[serde(skip)]
    pool: Option<Pool>,
}

#[actions]
impl Shop {
    async fn on_wake(&mut self, ctx: &mut Ctx<Self>) {
        let path = std::env::temp_dir().join(format!("sql-vars-{}.sqlite", ctx.key()));
        match Pool::open(&path, 2) {
            Ok(pool) => {
                let created = pool.with(|c| {
                    c.execute_batch(
                        "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT, cents INTEGER)",
                    )
                });
                if let Err(e) = created {
                    eprintln!("cannot create the orders table: {e}");
                }
                self.pool = Some(pool);
            }
            Err(e) => eprintln!("cannot open {}: {e}", path.display()),
        }
    }

    /// Records an order in SQL and in the actor's summary.
    pub async fn order(&mut self, item: String, cents: u64) -> Result<u64, DbError> {
        let pool = self.pool.as_ref().ok_or(DbError("no connection".into()))?;
        let cents_sql = i64::try_from(cents).map_err(|e| DbError(e.to_string()))?;
        pool.with(|c| {
            c.execute(
                "INSERT INTO orders (item, cents) VALUES (?1, ?2)",
                (&item, cents_sql),
            )
        })?;
        self.orders += 1;
        self.revenue_cents += cents;
        Ok(self.orders)
    }

    /// The summary, and the row count SQL reports.
    pub async fn report(&self) -> Result<(u64, u64, i64), DbError> {
        let pool = self.pool.as_ref().ok_or(DbError("no connection".into()))?;
        let rows = pool.with(|c| c.query_row("SELECT COUNT(*) FROM orders", [], |r| r.get(0)))?;
        Ok((self.orders, self.revenue_cents, rows))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = format!("shop-{}", std::process::id());
    let store = std::env::temp_dir().join(format!("{key}.redb"));

    let system = System::open(&store).await?;
    let shop = system.get_or_create::<Shop>(key.as_str()).await?;
    shop.order("tea".into(), 450).await?;
    shop.order("cake".into(), 625).await?;
    let (orders, cents, rows) = shop.report().await?;
    println!("first run: {orders} orders, {cents} cents; SQL has {rows} rows");
    system.shutdown().await;

    // A new run of the system: the summary comes from the actor store, the pool is rebuilt
    // by on_wake (it was never persisted), and SQL still has its rows.
    let system = System::open(&store).await?;
    let shop = system.get::<Shop>(key.as_str()).await?;
    shop.order("coffee".into(), 300).await?;
    let (orders, cents, rows) = shop.report().await?;
    println!("after a restart: {orders} orders, {cents} cents; SQL has {rows} rows");
    assert_eq!((orders, cents, rows), (3, 1375, 3));
    system.shutdown().await;

    std::fs::remove_file(&store)?;
    std::fs::remove_file(std::env::temp_dir().join(format!("sql-vars-{key}.sqlite")))?;
    println!("the pool lived only in memory; the state and the SQL rows survived");
    Ok(())
}
