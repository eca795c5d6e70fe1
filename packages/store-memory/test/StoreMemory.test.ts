import * as StoreContract from "@tracklog/core/testing/StoreContract"
import * as OperationsContract from "@tracklog/core/testing/OperationsContract"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"

StoreContract.run("memory", StoreMemory.layer)

OperationsContract.run("memory", () => StoreMemory.layer)
