// Helpers for errors anywhere in the service: a leaf module (no imports) so every layer may use it.

/** The message of anything thrown: an Error's message, else its string form. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
