/**
 * A decider (Emmett's `Decider`): the pure core of a command — `decide` turns a command and the
 * current state into new events or a typed refusal, `evolve` folds one event into a state, from
 * `initialState`. `CommandHandler` runs contact deciders against the store;
 * `testing/DeciderSpecification` tests any decider.
 */
import * as Either from "effect/Either"

/**
 * The three functions of a command's rules. `Context` carries the time and new ids it may use;
 * `Refusal` is what it answers instead of events when a rule refuses the command.
 */
export interface Decider<Command, Event, State, Context, Refusal = never> {
  readonly decide: (command: Command, state: State, context: Context) => Either.Either<ReadonlyArray<Event>, Refusal>
  readonly evolve: (state: State, event: Event) => State
  readonly initialState: State
}

/** Folds events from a state with a decider's `evolve`. */
export const fold = <Event, State>(
  decider: Pick<Decider<unknown, Event, State, unknown, unknown>, "evolve" | "initialState">,
  events: Iterable<Event>,
  state: State = decider.initialState
): State => {
  let current = state
  for (const event of events) current = decider.evolve(current, event)
  return current
}

/** A `decide` that never refuses, as a decider's: its events, always accepted. */
export const accepting = <Command, Event, State, Context>(
  decide: (command: Command, state: State, context: Context) => ReadonlyArray<Event>
) =>
(command: Command, state: State, context: Context): Either.Either<ReadonlyArray<Event>, never> =>
  Either.right(decide(command, state, context))
