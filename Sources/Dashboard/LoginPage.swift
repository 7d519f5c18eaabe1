/// The only page shown without a session: a form for the operator token.
public enum LoginPage {
  public static func render(message: String? = nil) -> String {
    let notice =
      message.map { "<p class=\"error\" id=\"login-error\">\(HTML.escape($0))</p>" } ?? ""
    return """
      <!doctype html>
      <html lang="en"><head><meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <title>Turnout: log in</title><link rel="stylesheet" href="/dashboard/style.css"></head>
      <body class="login">
      <form method="post" action="/dashboard/login" id="login">
      <h1>Turnout</h1>
      <p>Log in with the scheduler's operator token (<code>schedd --api-token</code>, or <code>TURNOUT_API_TOKEN</code>).</p>
      \(notice)
      <label>operator token <input type="password" name="token" id="token" autocomplete="current-password" autofocus required></label>
      <button type="submit" id="login-submit">Log in</button>
      </form></body></html>
      """
  }
}
