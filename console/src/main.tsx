/** The console: one page per hash route, a token prompt when the Sentinel asks for one. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { onUnauthenticated } from './api/auth';
import { TokenPrompt } from './components/token-prompt';
import { EnvsPage } from './pages/envs-page';
import { JobPage } from './pages/job-page';
import { JobsPage } from './pages/jobs-page';
import { PluginsPage } from './pages/plugins-page';
import { QueryPage } from './pages/query-page';
import { ThroughputPage } from './pages/throughput-page';
import { WorkersPage } from './pages/workers-page';
import { href, useRoute, type Route } from './router';
import './style.css';

const NAV: [string, string][] = [
  ['jobs', 'Jobs'],
  ['workers', 'Workers'],
  ['plugins', 'Plugins'],
  ['envs', 'Environments'],
  ['query', 'Query'],
  ['throughput', 'Throughput'],
];

function Page({ route }: { route: Route }) {
  const [section, id] = route.path;
  switch (section ?? 'jobs') {
    case 'jobs':
      return id ? <JobPage id={id} /> : <JobsPage route={route} />;
    case 'workers':
      return <WorkersPage />;
    case 'plugins':
      return <PluginsPage />;
    case 'envs':
      return <EnvsPage />;
    case 'query':
      return <QueryPage route={route} />;
    case 'throughput':
      return <ThroughputPage />;
    default:
      return <p class="error">No page {route.path.join('/')}.</p>;
  }
}

function App() {
  const route = useRoute();
  const [authMessage, setAuthMessage] = useState<string | null>(null);
  // A new token remounts the page, so it loads again with the token.
  const [epoch, setEpoch] = useState(0);
  useEffect(() => onUnauthenticated((m) => setAuthMessage(m)), []);
  const section = route.path[0] ?? 'jobs';
  return (
    <>
      <header>
        <h1>Casparian Flow</h1>
        <nav>
          {NAV.map(([path, label]) => (
            <a key={path} href={href([path])} class={section === path ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
      </header>
      <main key={epoch}>
        <Page route={route} />
      </main>
      {authMessage !== null && (
        <TokenPrompt
          message={authMessage}
          onSaved={() => {
            setAuthMessage(null);
            setEpoch((e) => e + 1);
          }}
        />
      )}
    </>
  );
}

render(<App />, document.getElementById('app')!);
