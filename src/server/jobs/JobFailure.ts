/** A failure no retry can fix (a reverting deployment, bad input): the job fails at once, visibly. */
export class JobFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'JobFailure'
  }
}
