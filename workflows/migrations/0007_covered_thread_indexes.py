"""Drop the indexes that a composite index or unique constraint leading with the same column
already covers: each is one more b-tree to write per inserted row on the hot path (checkpoints,
pending writes, interrupts). The foreign keys stay as they are, so the database part drops
indexes only (no table rebuild on SQLite, no constraint re-check on PostgreSQL)."""

import django.db.models.deletion
from django.db import migrations, models

# (table, index Django made for the foreign key or Meta.indexes, its columns)
COVERED = [
    ("workflows_checkpoint", "workflows_checkpoint_thread_id_0333e13a", "thread_id"),
    ("workflows_pendingwrite", "workflows_pendingwrite_thread_id_89c22693", "thread_id"),
    ("workflows_pendingwrite", "workflows_p_thread__d50712_idx",
     "thread_id, checkpoint_ns, checkpoint_id"),
    ("workflows_interrupt", "workflows_interrupt_thread_id_13f57390", "thread_id"),
    ("workflows_timetravel", "workflows_timetravel_thread_id_996ee281", "thread_id"),
]


def _thread(related_name):
    return models.ForeignKey(
        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name=related_name,
        to="workflows.thread",
    )


class Migration(migrations.Migration):

    dependencies = [
        ("workflows", "0006_one_running_run_per_thread"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(
                    model_name="pendingwrite", name="workflows_p_thread__d50712_idx"
                ),
                *(
                    migrations.AlterField(
                        model_name=model, name="thread", field=_thread(related_name)
                    )
                    for model, related_name in [
                        ("checkpoint", "checkpoints"),
                        ("interrupt", "interrupts"),
                        ("pendingwrite", "pending_writes"),
                        ("timetravel", "time_travels"),
                    ]
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table}" ({columns})',
                )
                for table, index, columns in COVERED
            ],
        ),
    ]
