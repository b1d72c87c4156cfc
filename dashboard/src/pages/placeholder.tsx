import { useTitle } from "../components/hooks";

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
