{* OpenClaw client area. The access link is never in this page: the button asks the module
   (custom action "openaccess") for a one-time link at click time and is redirected to it. *}
<div class="openclaw-service">
    {if $error}
        <div class="alert alert-warning">{$error|escape:'html'}</div>
    {/if}
    <table class="table table-striped">
        <tr><th>Status</th><td>{$status|escape:'html'}</td></tr>
        {if $fqdn}<tr><th>Address</th><td>{$fqdn|escape:'html'}</td></tr>{/if}
    </table>
    {if $active}
        <form method="post" action="clientarea.php?action=productdetails" target="_blank">
            <input type="hidden" name="id" value="{$serviceid|escape:'html'}" />
            <input type="hidden" name="modop" value="custom" />
            <input type="hidden" name="a" value="openaccess" />
            <button type="submit" class="btn btn-primary">Open OpenClaw</button>
        </form>
        <p class="text-muted small">Each click makes a fresh one-time link that pairs the browser that opens it.</p>
    {else}
        <p class="text-muted">The button to open OpenClaw appears once the instance is active.</p>
    {/if}
</div>
