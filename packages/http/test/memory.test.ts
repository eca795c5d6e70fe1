import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import { conformance } from "./conformance.js"

conformance("memory store", () => StoreMemory.layer)
