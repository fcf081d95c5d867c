/** @module The web control page's one stylesheet and its small progressive-enhancement script (inlined so the build copies nothing). */

export const STYLE_CSS = `:root{color-scheme:light dark;--fg:#111;--bg:#fff;--mut:#555;--line:#ccc;--ok:#0a6b2d;--warn:#8a5300;--bad:#a40000;--acc:#0b4fa8}
@media (prefers-color-scheme:dark){:root{--fg:#eee;--bg:#141414;--mut:#bbb;--line:#444;--ok:#6fdc8c;--warn:#ffc266;--bad:#ff8080;--acc:#8cb8ff}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--acc)}a:focus,button:focus,input:focus,select:focus{outline:3px solid var(--acc);outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:var(--bg);padding:4px}
header{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;padding:.5rem 1rem;border-bottom:1px solid var(--line)}
header h1{font-size:1.1rem;margin:0}nav ul{display:flex;flex-wrap:wrap;gap:.75rem;list-style:none;margin:0;padding:0}
nav a[aria-current=page]{font-weight:700;text-decoration:none}main{padding:1rem;max-width:72rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}th,td{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
.state-healthy{color:var(--ok)}.state-degraded{color:var(--warn)}.state-failing{color:var(--bad)}
.flash{border:2px solid var(--acc);padding:.5rem}.flash.failed{border-color:var(--bad)}
button{font:inherit;padding:.2rem .7rem;cursor:pointer}form.inline{display:inline}
.muted{color:var(--mut)}td code{word-break:break-all}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}
`;

/**
 * Refresh: every second, regions marked `data-live` are replaced by the same region of a fresh GET of this page
 * (no forms live inside them, so focus is never lost). The live events page reads the SSE stream.
 */
export const APP_JS = `(function(){
  var live=document.querySelectorAll("[data-live]");
  if(live.length){setInterval(function(){
    fetch(location.href,{credentials:"same-origin",headers:{"x-tau-refresh":"1"}}).then(function(r){return r.ok?r.text():null}).then(function(t){
      if(!t)return;var d=new DOMParser().parseFromString(t,"text/html");
      live.forEach(function(el){var n=d.getElementById(el.id);if(n&&n.innerHTML!==el.innerHTML)el.innerHTML=n.innerHTML;});
    }).catch(function(){});
  },1000);}
  var list=document.getElementById("event-list");
  if(list&&window.EventSource){var es=new EventSource("/ui/events/stream");
    es.onmessage=function(m){var e=JSON.parse(m.data);var li=document.createElement("li");
      li.textContent=e.at+" "+e.event+" "+e.health+(e.reasons.length?" ("+e.reasons.join(", ")+")":"");list.prepend(li);};}
})();
`;
