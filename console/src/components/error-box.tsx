import { ApiError } from '../api/errors';

/** An API error as the page shows it: the code, then the server's message. */
export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e = ApiError.from(error);
  return (
    <div class="error" role="alert" data-code={e.code}>
      {title && <strong>{title}: </strong>}
      <code class="error-code">{e.code}</code> <span class="error-message">{e.message}</span>
    </div>
  );
}
