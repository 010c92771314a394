//! Layout migrations, run inside the write transaction that opens the store, so that a
//! crash mid-way leaves the old layout intact.

use redb::{ReadableTable, WriteTransaction};

use super::{StoreError, decode_stored, tables};

/// Layout 1 → 2: every record gets its summary in front of its envelope; the id, kind,
/// suite and round index tables are dropped (layout 2 keeps them in memory).
pub(super) fn from_v1(txn: &WriteTransaction) -> Result<(), StoreError> {
    {
        let old = txn.open_table(tables::v1::RECORDS)?;
        let mut new = txn.open_table(tables::RECORDS)?;
        for item in old.iter()? {
            let (k, v) = item?;
            let (env, rec) = decode_stored(v.value())?;
            let summary = tables::Summary::new(env.id(), &rec.body);
            tables::put_record(&mut new, k.value(), &summary, v.value())?;
        }
    }
    let old: Vec<_> = txn
        .list_tables()?
        .filter(|t| {
            let name = redb::TableHandle::name(t);
            name == tables::v1::RECORDS_NAME || tables::v1::INDEXES.contains(&name)
        })
        .collect();
    for table in old {
        txn.delete_table(table)?;
    }
    tracing::info!(
        "store migrated from layout 1 to layout {}",
        tables::LAYOUT_VERSION
    );
    Ok(())
}
