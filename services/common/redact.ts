/**
 * Credentials written into URLs (`https://user:secret@host/…`, as in a
 * private index URL) are replaced by `***` before text is logged, written to
 * an install log or put in a job error that any client can read.
 */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+(?::[^\s/@]*)?@/gi;

export function redactUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1***@');
}
