/**
 * The Postgres store's own metrics, in Effect's metric registry (the server renders them at
 * `GET /metrics`): how many operations each group commit carries.
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"

/** Operations per group commit, by batcher (`append`, `find_by_email`, `find_by_id`, `find_by_key_hash`, `webhook_settle`). */
export const batchSizeKey = MetricKey.histogram(
  "tracklog_store_group_commit_batch_size",
  // Up past 1000: a batch of tracks (behaviour §8) holds up to 1000 items.
  MetricBoundaries.fromIterable([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]),
  "Operations sent together in one group commit"
)

const none: ReadonlyArray<never> = []

/** A recorder for one batcher: its tagged metric is resolved once, not per batch. */
export const batchSizeOf = (batcher: string) => {
  const metric = Metric.fromMetricKey(MetricKey.tagged(batchSizeKey, "batcher", batcher))
  return (size: number) => metric.unsafeUpdate(size, none)
}
