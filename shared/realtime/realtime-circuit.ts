/**
 * The circuit in front of Web PubSub pushes. A push to a service that is down costs a send
 * its retries or the whole push timeout; once a few in a row have failed, later pushes are
 * skipped at once, and after a cool-down one push goes through as the trial that closes the circuit
 * again when it succeeds. cockatiel provides the breaker (typed, no dependencies, its v3 ships
 * CommonJS for this app) rather than a hand-written state machine.
 */
import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen, type CircuitBreakerPolicy } from "cockatiel";

/** How long pushes are skipped after Web PubSub failed, before one push tries it again. */
export const PUSH_COOL_DOWN_MS = 2_000;

/**
 * Failures in a row, with no success between, that open the circuit. More than one: under
 * heavy load a healthy service may let one push time out, and opening on it would drop every
 * event for the cool-down; an outage fails every push, so three come at once.
 */
export const PUSH_FAILURES_TO_OPEN = 3;

/** A push not attempted because Web PubSub is known to be failing; the message says why. */
export class PushSkippedError extends Error {}

/**
 * A failure that says the service is down or overloaded (no answer, a timeout, 408, 429,
 * 5xx), as opposed to a refusal of this one call (another 4xx), which says nothing of the next.
 */
export function isServiceFault(error: Error): boolean {
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status !== "number" || status >= 500 || status === 408 || status === 429;
}

let circuit: CircuitBreakerPolicy | undefined;

/** Counts only failures that outlived the SDK's own retry. */
function pushCircuit(): CircuitBreakerPolicy {
  circuit ??= circuitBreaker(handleWhen(isServiceFault), {
    halfOpenAfter: PUSH_COOL_DOWN_MS,
    breaker: new ConsecutiveBreaker(PUSH_FAILURES_TO_OPEN),
  });
  return circuit;
}

/** Forgets past failures (a new client, or proof that the service is reachable). */
export function closePushCircuit(): void {
  circuit = undefined;
}

/**
 * Runs one push through the circuit; throws PushSkippedError instead of calling a failing
 * service. `answersTheService`: the push replies to an event the service has just sent us,
 * which proves it reachable, so it is tried at once and its success closes the circuit.
 */
export async function throughPushCircuit(send: () => Promise<unknown>, answersTheService: boolean): Promise<void> {
  const policy = pushCircuit();
  if (policy.state !== CircuitState.Closed && answersTheService) {
    await send();
    closePushCircuit();
    return;
  }
  // cockatiel holds every call behind the trial push; a send must not wait for it either.
  if (policy.state === CircuitState.HalfOpen) throw new PushSkippedError("Web PubSub is failing; a trial push is under way");
  try {
    await policy.execute(send);
  } catch (error) {
    if (error instanceof BrokenCircuitError) throw new PushSkippedError(`Web PubSub failed within the last ${PUSH_COOL_DOWN_MS} ms`);
    throw error;
  }
}
