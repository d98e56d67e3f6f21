/* Stripe.js-compatible shim served by the paylive Stripe emulator.
 * Supports the Card Element (elements().create('card'), confirmCardPayment,
 * confirmCardSetup, handleCardAction) and the Payment Element (elements({ clientSecret,
 * appearance }).create('payment'), confirmPayment, handleNextAction), and
 * retrievePaymentIntent / retrieveSetupIntent, talking to the emulator at BASE.
 * The Payment Element offers cards only. */
(function () {
  "use strict";
  var BASE = "__EMULATOR_BASE__";

  function encode(value, prefix, out) {
    if (value === null || value === undefined) return out;
    if (typeof value === "object") {
      Object.keys(value).forEach(function (k) {
        encode(value[k], prefix ? prefix + "[" + k + "]" : k, out);
      });
    } else {
      out.push(encodeURIComponent(prefix) + "=" + encodeURIComponent(String(value)));
    }
    return out;
  }

  function call(key, method, path, params) {
    var init = { method: method, headers: { Authorization: "Bearer " + key } };
    var query = encode(params || {}, "", []).join("&");
    if (method === "POST") {
      init.headers["Content-Type"] = "application/x-www-form-urlencoded";
      init.body = query;
    } else if (query) {
      path += "?" + query;
    }
    return fetch(BASE + path, init).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    });
  }

  // The Card Element, and the Payment Element ("payment": the same fields under a label).
  function CardElement(type, appearance) {
    this._type = type || "card";
    this._appearance = appearance || {};
    this._handlers = {};
    this._root = null;
  }
  CardElement.prototype.mount = function (target) {
    var el = typeof target === "string" ? document.querySelector(target) : target;
    if (!el) throw new Error("mount: no element matches " + target);
    var vars = this._appearance.variables || {};
    var style = "display:flex;gap:.5rem" +
      (vars.fontFamily ? ";font-family:" + String(vars.fontFamily).replace(/[;"<>]/g, "") : "");
    el.innerHTML = (this._type === "payment"
      ? '<div class="p-PaymentElement" data-method="card"><div class="p-Tab" style="font-weight:600;margin-bottom:.25rem">Card</div>'
      : "") +
      '<span class="StripeElement" style="' + style + '">' +
      '<input name="cardnumber" autocomplete="cc-number" inputmode="numeric" placeholder="Card number" style="flex:3">' +
      '<input name="exp-date" autocomplete="cc-exp" placeholder="MM / YY" style="flex:1">' +
      '<input name="cvc" autocomplete="cc-csc" inputmode="numeric" placeholder="CVC" style="flex:1">' +
      "</span>" + (this._type === "payment" ? "</div>" : "");
    this._root = el;
    var self = this;
    el.addEventListener("input", function () { self._emit("change", self._state()); });
    setTimeout(function () { self._emit("ready", { elementType: self._type }); }, 0);
  };
  CardElement.prototype._field = function (name) {
    var input = this._root && this._root.querySelector('input[name="' + name + '"]');
    return input ? input.value.replace(/\s+/g, "") : "";
  };
  CardElement.prototype._state = function () {
    var number = this._field("cardnumber");
    var complete = number.length >= 12 && /^\d{2}\/?\d{2}$/.test(this._field("exp-date")) &&
      this._field("cvc").length >= 3;
    var state = { elementType: this._type, empty: number === "", complete: complete, error: undefined };
    var brand = number.charAt(0) === "4" ? "visa" : number.charAt(0) === "5" ? "mastercard" : "unknown";
    if (this._type === "payment") state.value = { type: "card" };
    else state.brand = brand;
    return state;
  };
  CardElement.prototype.on = function (event, cb) {
    (this._handlers[event] = this._handlers[event] || []).push(cb);
    return this;
  };
  CardElement.prototype._emit = function (event, payload) {
    (this._handlers[event] || []).forEach(function (cb) { cb(payload); });
  };
  CardElement.prototype.unmount = function () { if (this._root) this._root.innerHTML = ""; };
  CardElement.prototype.destroy = CardElement.prototype.unmount;
  CardElement.prototype.clear = function () {
    if (this._root) this._root.querySelectorAll("input").forEach(function (i) { i.value = ""; });
  };
  CardElement.prototype.focus = function () {
    var input = this._root && this._root.querySelector("input");
    if (input) input.focus();
  };
  CardElement.prototype._card = function () {
    var exp = this._field("exp-date").split("/");
    return { number: this._field("cardnumber"), exp_month: exp[0], exp_year: exp[1], cvc: this._field("cvc") };
  };

  // A validation error for an unfinished Payment Element, as Stripe reports it; else null.
  function incomplete(element) {
    var card = element._card();
    var code = card.number.length < 12 ? "incomplete_number"
      : !/^\d{2}\/?\d{2}$/.test(element._field("exp-date")) ? "incomplete_expiry"
      : card.cvc.length < 3 ? "incomplete_cvc" : null;
    if (!code) return null;
    var what = { incomplete_number: "card number", incomplete_expiry: "card's expiration date",
      incomplete_cvc: "card's security code" }[code];
    return { type: "validation_error", code: code, message: "Your " + what + " is incomplete." };
  }

  // Show the emulator's 3-D Secure page in an overlay iframe and wait for its outcome.
  function authenticate(url) {
    return new Promise(function (resolve) {
      var overlay = document.createElement("div");
      overlay.setAttribute("data-emulator-3ds", "");
      overlay.style.cssText = "position:fixed;inset:0;background:rgba(0,0,0,.5);z-index:2147483647;" +
        "display:flex;align-items:center;justify-content:center";
      var frame = document.createElement("iframe");
      frame.src = url;
      frame.title = "3-D Secure authentication";
      frame.style.cssText = "width:min(500px,95vw);height:min(600px,90vh);border:0;background:#fff";
      overlay.appendChild(frame);
      document.body.appendChild(overlay);
      function done(ev) {
        if (!ev.data || ev.data.type !== "paylive-emulator-3ds") return;
        window.removeEventListener("message", done);
        overlay.remove();
        resolve(ev.data.status);
      }
      window.addEventListener("message", done);
    });
  }

  function Stripe(key) {
    if (!(this instanceof Stripe)) return new Stripe(key);
    if (!key) throw new Error("Stripe(): a publishable key is required");
    this._key = key;
  }
  Stripe.prototype.elements = function (options) {
    options = options || {};
    var created = {};
    var appearance = options.appearance || {};
    return {
      _clientSecret: options.clientSecret || null,
      create: function (type) {
        if (type !== "card" && type !== "payment") {
          throw new Error("The emulator's Stripe.js supports only 'card' and 'payment'");
        }
        if (type === "payment" && !options.clientSecret) {
          throw new Error("elements({ clientSecret }) is required for the Payment Element");
        }
        created[type] = new CardElement(type, appearance);
        return created[type];
      },
      getElement: function (type) { return created[type] || null; },
      update: function (changes) { if (changes && changes.appearance) appearance = changes.appearance; },
      submit: function () {
        var el = created.payment;
        return Promise.resolve(el ? { error: incomplete(el) } : {});
      },
    };
  };
  // Payment- and SetupIntents go through the same steps; the client secret says which.
  function kindOf(secret) {
    return secret.indexOf("seti_") === 0
      ? { path: "/v1/setup_intents/", key: "setupIntent", lastError: "last_setup_error", errorKey: "setup_intent" }
      : { path: "/v1/payment_intents/", key: "paymentIntent", lastError: "last_payment_error", errorKey: "payment_intent" };
  }
  function result(secret, intent) {
    var out = {};
    out[kindOf(secret).key] = intent;
    return out;
  }
  Stripe.prototype._retrieve = function (secret) {
    var id = secret.split("_secret_")[0];
    return call(this._key, "GET", kindOf(secret).path + id, { client_secret: secret })
      .then(function (r) { return r.ok ? result(secret, r.body) : { error: r.body.error }; });
  };
  Stripe.prototype.retrievePaymentIntent = function (secret) { return this._retrieve(secret); };
  Stripe.prototype.retrieveSetupIntent = function (secret) { return this._retrieve(secret); };
  Stripe.prototype._settle = function (secret) {
    var kind = kindOf(secret);
    return this._retrieve(secret).then(function (res) {
      var intent = res[kind.key];
      if (intent && intent.status === "requires_payment_method" && intent[kind.lastError]) {
        var error = Object.assign({}, intent[kind.lastError]);
        error[kind.errorKey] = intent;
        return { error: error };
      }
      return res;
    });
  };
  Stripe.prototype._next = function (secret, intent) {
    if (intent.status !== "requires_action" || !intent.next_action) return Promise.resolve(result(secret, intent));
    var action = intent.next_action;
    if (action.type === "redirect_to_url") {
      window.location.assign(action.redirect_to_url.url);
      return new Promise(function () {});
    }
    var self = this;
    return authenticate(action.use_stripe_sdk.stripe_js).then(function () { return self._settle(secret); });
  };
  Stripe.prototype.handleCardAction = function (secret) {
    var self = this;
    return this._retrieve(secret).then(function (res) {
      return res.error ? res : self._next(secret, res[kindOf(secret).key]);
    });
  };
  Stripe.prototype.handleNextAction = function (options) {
    return this.handleCardAction(options && options.clientSecret);
  };
  // confirmPayment({ elements, clientSecret?, confirmParams: { return_url }, redirect }):
  // redirect "always" (the default) sends the customer to return_url when done, as Stripe
  // does; "if_required" resolves with the PaymentIntent or the error instead.
  Stripe.prototype.confirmPayment = function (options) {
    options = options || {};
    var elements = options.elements;
    var params = options.confirmParams || {};
    var secret = options.clientSecret || (elements && elements._clientSecret);
    var element = elements && elements.getElement("payment");
    var always = options.redirect !== "if_required";
    if (!secret) return Promise.reject(new Error("confirmPayment: no clientSecret"));
    if (always && !params.return_url) {
      return Promise.reject(new Error("confirmPayment: confirmParams.return_url is required"));
    }
    if (!element) return Promise.reject(new Error("confirmPayment: no Payment Element mounted"));
    var invalid = incomplete(element);
    if (invalid) return Promise.resolve({ error: invalid });
    // No return_url to the emulator: it would answer 3-D Secure with a redirect, where
    // Stripe.js authenticates cards in its modal; the redirect to return_url comes after.
    var data = { payment_method: { card: element,
      billing_details: (params.payment_method_data || {}).billing_details } };
    return this.confirmCardPayment(secret, data).then(function (res) {
      var pi = res.paymentIntent;
      if (always && pi && (pi.status === "succeeded" || pi.status === "processing" ||
          pi.status === "requires_capture")) {
        var url = new URL(params.return_url, window.location.href);
        url.searchParams.set("payment_intent", pi.id);
        url.searchParams.set("payment_intent_client_secret", secret);
        url.searchParams.set("redirect_status", pi.status === "processing" ? "pending" : "succeeded");
        window.location.assign(url.toString());
        return new Promise(function () {});
      }
      return res;
    });
  };
  Stripe.prototype._confirm = function (secret, data, options) {
    var self = this;
    var id = secret.split("_secret_")[0];
    data = data || {};
    var pmStep;
    if (typeof data.payment_method === "string") {
      pmStep = Promise.resolve({ id: data.payment_method });
    } else if (data.payment_method && data.payment_method.card) {
      var params = { type: "card", card: data.payment_method.card._card(),
        billing_details: data.payment_method.billing_details };
      pmStep = call(this._key, "POST", "/v1/payment_methods", params).then(function (r) {
        if (!r.ok) throw r.body.error;
        return r.body;
      });
    } else {
      pmStep = Promise.resolve(null);
    }
    return pmStep.then(function (pm) {
      var params = { client_secret: secret };
      if (pm) params.payment_method = pm.id;
      if (data.return_url) params.return_url = data.return_url;
      return call(self._key, "POST", kindOf(secret).path + id + "/confirm", params);
    }).then(function (r) {
      if (!r.ok) return { error: r.body.error };
      if (options && options.handleActions === false) return result(secret, r.body);
      return self._next(secret, r.body);
    }, function (error) {
      return { error: error };
    });
  };
  Stripe.prototype.confirmCardPayment = function (secret, data, options) {
    return this._confirm(secret, data, options);
  };
  Stripe.prototype.confirmCardSetup = function (secret, data, options) {
    return this._confirm(secret, data, options);
  };
  window.Stripe = Stripe;
})();
