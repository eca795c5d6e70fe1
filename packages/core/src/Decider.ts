/**
 * A decider (Emmett's `Decider`): the pure core of a command — `decide` turns a command and the
 * current state into new events, `evolve` folds one event into a state, from `initialState`.
 * `CommandHandler` runs any decider against the store; `testing/DeciderSpecification` tests one.
 */

/** The three functions of a command's rules. `Context` carries the time and new ids it may use. */
export interface Decider<Command, Event, State, Context> {
  readonly decide: (command: Command, state: State, context: Context) => ReadonlyArray<Event>
  readonly evolve: (state: State, event: Event) => State
  readonly initialState: State
}

/** Folds events from a state with a decider's `evolve`. */
export const fold = <Event, State>(
  decider: Pick<Decider<unknown, Event, State, unknown>, "evolve" | "initialState">,
  events: Iterable<Event>,
  state: State = decider.initialState
): State => {
  let current = state
  for (const event of events) current = decider.evolve(current, event)
  return current
}
