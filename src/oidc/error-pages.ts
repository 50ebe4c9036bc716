/**
 * The words on the error pages of sign-in: what happened, in plain language for the person who
 * followed the link, and (when the application's developer can fix it) what to fix. oidc-provider's
 * own descriptions ("redirect_uri did not match any of the client's registered redirect_uris") are
 * written for protocol logs, not for people.
 */
export interface ErrorPage {
  title: string;
  message: string;
  /** What the application's developer should change, shown apart from the message. */
  developerHint?: string;
}

const START_AGAIN = 'Go back to the application and start signing in again.';
const TELL_DEVELOPER = 'Go back to the application and let its developer know.';

/** oidc-provider's error (`error`, `error_description`, and its class name) as a page. */
export function providerErrorPage(error: string, description: string | undefined, errorName?: string): ErrorPage {
  if (error === 'temporarily_unavailable')
    return { title: 'Temporarily unavailable', message: 'Please try again in a moment.' };
  if (error === 'server_error') {
    return {
      title: 'Something went wrong',
      message: 'Latchkey could not finish this sign-in. Please try again in a moment.',
    };
  }
  if (error === 'invalid_redirect_uri') {
    return {
      title: "The application's return address is not registered",
      message:
        'The application asked to send you back to an address it has not registered here, so the sign-in ' +
        `was stopped to keep your account safe. ${TELL_DEVELOPER}`,
      developerHint:
        'The redirect_uri in the authorization request must be exactly one of the redirect URIs registered ' +
        'for this application (the same scheme, host, port, path and query; a trailing slash counts). ' +
        "Add it to the application's redirect URIs in the dashboard, or send the one registered there.",
    };
  }
  if (error === 'invalid_client') {
    return {
      title: 'Unknown application',
      message: `The link names an application that is not registered here, or no longer is. ${TELL_DEVELOPER}`,
      developerHint:
        'The client_id in the authorization request matches no registered application. ' +
        "Copy the client ID from the application's page in the dashboard.",
    };
  }
  if (description === 'post_logout_redirect_uri not registered') {
    return {
      title: "The application's return address is not registered",
      message:
        'The application asked to send you to an address it has not registered here after signing out, so ' +
        `Latchkey will not send you there. You have not been signed out. ${TELL_DEVELOPER}`,
      developerHint:
        'The post_logout_redirect_uri of the logout request must be exactly one of the post-logout redirect ' +
        "URIs registered for this application. Add it to the application's post_logout_redirect_uris.",
    };
  }
  // The resume step after sign-in and consent: its cookie is gone, or belongs to another sign-in.
  if (errorName === 'SessionNotFound') {
    return {
      title: 'This sign-in could not be finished',
      message: `It was left open too long, was already finished, or was started in another browser. ${START_AGAIN}`,
    };
  }
  const missing = /^missing required parameter '([\w-]+)'$/.exec(description ?? '')?.[1];
  if (error === 'invalid_request' && missing) {
    return {
      title: 'The sign-in link is incomplete',
      message: `The application sent you here without everything needed to sign you in. ${TELL_DEVELOPER}`,
      developerHint: `The authorization request has no ${missing} parameter: add it.`,
    };
  }
  return {
    title: "The application's sign-in request is not valid",
    message: `This sign-in cannot go on because of a mistake in the application's request. ${TELL_DEVELOPER}`,
    developerHint: `The authorization request was refused with ${error}${description ? `: ${description}` : ''}.`,
  };
}

/**
 * Why a sign-in page (/interaction/:uid) cannot go on. `expired`: the request existed and ran out
 * of time; `not-found`: there is no such request (a wrong or partial link, or one already used);
 * `other-browser`: it exists, but this browser does not hold its cookie; `signed-out`: the browser's
 * sign-in ended or changed hands meanwhile; `out-of-step`: the form posted is not the step the
 * request is at (a second tab, the back button).
 */
export type InteractionFate = 'expired' | 'not-found' | 'other-browser' | 'signed-out' | 'out-of-step';

export function interactionErrorPage(fate: InteractionFate): ErrorPage {
  switch (fate) {
    case 'expired':
      return {
        title: 'This sign-in request has expired',
        message: `It was left open for more than an hour. ${START_AGAIN}`,
      };
    case 'not-found':
      return {
        title: 'This sign-in request was not found',
        message:
          'There is no sign-in waiting at this address: the link may be incomplete, or the sign-in was ' +
          `already finished. ${START_AGAIN}`,
      };
    case 'other-browser':
      return {
        title: 'This sign-in was started in another browser',
        message:
          'This browser does not hold the sign-in it belongs to (it was started in another browser or window, ' +
          'or cookies were cleared or blocked). Start signing in again from the application in this browser.',
      };
    case 'signed-out':
      return {
        title: 'You signed out during this sign-in',
        message: `This browser signed out or changed accounts while the sign-in was open. ${START_AGAIN}`,
      };
    case 'out-of-step':
      return {
        title: 'This sign-in page is out of date',
        message: `This step was already done (in another tab, or before going back). ${START_AGAIN}`,
      };
  }
}
