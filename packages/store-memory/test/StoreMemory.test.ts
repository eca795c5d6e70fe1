import * as StoreContract from "@tracklog/core/testing/StoreContract"
import * as LogStreamContract from "@tracklog/core/testing/LogStreamContract"
import * as SegmentContract from "@tracklog/core/testing/SegmentContract"
import * as OperationsContract from "@tracklog/core/testing/OperationsContract"
import * as WebhookContract from "@tracklog/core/testing/WebhookContract"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"

StoreContract.run("memory", StoreMemory.layer)
LogStreamContract.run("memory", StoreMemory.layer)
SegmentContract.run("memory", StoreMemory.layer)
OperationsContract.run("memory", () => StoreMemory.layer)
WebhookContract.run("memory", StoreMemory.layer)
