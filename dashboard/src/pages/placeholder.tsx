import { useTitle } from "../components/hooks";

/** A page that exists in the navigation but arrives with the full dashboard. */
export function PlaceholderPage({ title, text }: { title: string; text: string }) {
  useTitle(title);
  return (
    <>
      <div class="page-head">
        <h1>{title}</h1>
      </div>
      <div class="empty">
        <p>{text}</p>
        <p class="muted">
          This page comes with a later version of the dashboard. Until then, the API covers it (see the API reference).
        </p>
      </div>
    </>
  );
}

export const MonitorsPage = () => (
  <PlaceholderPage
    title="Monitors"
    text="Monitors probe your services (HTTP checks on a schedule) and feed the live status."
  />
);

export function NotFoundPage() {
  useTitle("Not found");
  return (
    <>
      <div class="page-head">
        <h1>Page not found</h1>
      </div>
      <p>
        There is no page here. Go to the <a href="/status">live status</a>.
      </p>
    </>
  );
}
