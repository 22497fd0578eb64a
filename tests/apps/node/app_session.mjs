// Drives a live Isthmus the way Mattermost's web, desktop and mobile apps do at startup and in a short
// session, with the apps' own client (@mattermost/client's Client4), then type-checks every answer against
// @mattermost/types with tsc.
//
// usage: node app_session.mjs <server url> <login> <password> <team id> <channel id> <other user id> <outdir>
// Prints one JSON line: {calls: [{step, call, ok, status, id, type}], tsc: {ok, output}}.
import {execFileSync} from 'node:child_process';
import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';

import pkg from '@mattermost/client';

const {Client4} = pkg;
const [serverUrl, login, password, teamId, channelId, otherId, outDir] = process.argv.slice(2);

const client = new Client4();
client.setUrl(serverUrl);
const calls = [];
const answers = [];

// One app call: record whether the server answered it, and keep the answer to type-check as `type`.
async function call(step, name, type, fn) {
    try {
        const got = await fn();
        calls.push({step, call: name, ok: true, status: 200, id: '', type});
        if (type) {
            answers.push({name, type, value: got});
        }
        return got;
    } catch (err) {
        calls.push({step, call: name, ok: false, status: err.status_code ?? 0, id: err.server_error_id ?? '',
            message: String(err.message ?? err), type});
        return undefined;
    }
}

const me = await call('startup', 'login', 'UserProfile', () => client.login(login, password));
await call('startup', 'getClientConfig', 'ClientConfig', () => client.getClientConfig());
await call('startup', 'getClientLicenseOld', 'ClientLicense', () => client.getClientLicenseOld());
await call('startup', 'getMe', 'UserProfile', () => client.getMe());
await call('startup', 'getMyPreferences', 'PreferenceType[]', () => client.getMyPreferences());
await call('startup', 'getMyTeams', 'Team[]', () => client.getMyTeams());
await call('startup', 'getMyTeamMembers', 'TeamMembership[]', () => client.getMyTeamMembers());
await call('startup', 'getMyTeamUnreads', 'TeamUnread[]', () => client.getMyTeamUnreads(true));
await call('startup', 'getServerLimits', 'ServerLimits', async () => (await client.getServerLimits()).data);
await call('startup', 'getWebappPlugins', 'ClientPluginManifest[]', () => client.getWebappPlugins());
await call('startup', 'getCustomProfileAttributeFields', 'UserPropertyField[]',
    () => client.getCustomProfileAttributeFields());
await call('startup', 'getRolesByNames', 'Role[]',
    () => client.getRolesByNames(['system_user', 'team_user', 'channel_user']));
await call('startup', 'getKnownUsers', 'string[]', () => client.getKnownUsers());
await call('startup', 'getCustomEmojis', 'CustomEmoji[]', () => client.getCustomEmojis(0, 200));

await call('team', 'getMyChannels', 'ServerChannel[]', () => client.getMyChannels(teamId, true));
await call('team', 'getMyChannelMembers', 'ChannelMembership[]', () => client.getMyChannelMembers(teamId));
await call('team', 'getChannelCategories', 'OrderedChannelCategories',
    () => client.getChannelCategories(me.id, teamId));
await call('team', 'getTeamStats', 'TeamStats', () => client.getTeamStats(teamId));
await call('team', 'getUserThreads', 'UserThreadList',
    () => client.getUserThreads(me.id, teamId, {perPage: 25, extended: true, totalsOnly: false}));
await call('team', 'getUserDrafts', 'Draft[]', () => client.getUserDrafts(teamId));

await call('channel', 'getPosts', 'PostList', () => client.getPosts(channelId, 0, 60, false, true, true));
await call('channel', 'getProfilesByIds', 'UserProfile[]', () => client.getProfilesByIds([me.id, otherId]));
await call('channel', 'getStatusesByIds', 'UserStatus[]', () => client.getStatusesByIds([me.id, otherId]));
await call('channel', 'viewMyChannel', 'ChannelViewResponse', () => client.viewMyChannel(channelId));
await call('channel', 'getChannelStats', 'ChannelStats', () => client.getChannelStats(channelId, true));
await call('channel', 'getChannelMember', 'ChannelMembership', () => client.getMyChannelMember(channelId));
await call('channel', 'getChannelBookmarks', 'ChannelBookmark[]', () => client.getChannelBookmarks(channelId));
await call('channel', 'getPinnedPosts', 'PostList', () => client.getPinnedPosts(channelId));

const root = await call('session', 'createPost', 'Post',
    () => client.createPost({channel_id: channelId, message: 'hello from the app session'}));
const reply = await call('session', 'createPost (reply)', 'Post',
    () => client.createPost({channel_id: channelId, message: 'a reply', root_id: root?.id}));
await call('session', 'addReaction', 'Reaction', () => client.addReaction(me.id, root?.id, 'tada'));
const important = await call('session', 'createPost (priority, ack requested)', 'Post',
    () => client.createPost({channel_id: channelId, message: 'please confirm',
        metadata: {priority: {priority: 'important', requested_ack: true}}}));
await call('session', 'acknowledgePost', 'PostAcknowledgement', () => client.acknowledgePost(important?.id, me.id));
await call('session', 'getPost (acknowledged)', 'Post', () => client.getPost(important?.id));
await call('session', 'unacknowledgePost', '', () => client.unacknowledgePost(important?.id, me.id));
await call('session', 'getPostThread', 'PaginatedPostList', () => client.getPostThread(root?.id, true, true, true));
await call('session', 'updateThreadFollowForUser', 'StatusOK',
    () => client.updateThreadFollowForUser(me.id, teamId, root?.id, true));
await call('session', 'getUserThread', 'UserThreadWithPost', () => client.getUserThread(me.id, teamId, root?.id, true));
await call('session', 'updateThreadReadForUser', 'UserThread',
    () => client.updateThreadReadForUser(me.id, teamId, root?.id, Date.now()));
await call('session', 'savePreferences', 'StatusOK', () => client.savePreferences(me.id, [
    {user_id: me.id, category: 'favorite_channel', name: channelId, value: 'true'}]));
const cats = await call('session', 'getChannelCategories (after favorite)', 'OrderedChannelCategories',
    () => client.getChannelCategories(me.id, teamId));
if (cats) {
    const channels = cats.categories.find((c) => c.type === 'channels');
    await call('session', 'updateChannelCategories', 'ChannelCategory[]',
        () => client.updateChannelCategories(me.id, teamId, [{...channels, collapsed: true}]));
}
await call('session', 'viewMyChannel (mark read)', 'ChannelViewResponse', () => client.viewMyChannel(channelId));
if (reply) {
    await call('session', 'getPost', 'Post', () => client.getPost(reply.id));
}

// The type check: each answer must be assignable to its @mattermost/types type. A generic identity
// keeps literal types where the target wants them ('O' | 'P' …) and allows extra keys, so the check is
// about what the app relies on: every required key present, every present key of the right type.
mkdirSync(outDir, {recursive: true});
const typesDir = path.join(path.dirname(new URL(import.meta.url).pathname), 'node_modules/@mattermost/types');
const lines = [
    "import type {ClientConfig, ClientLicense} from '@mattermost/types/config';",
    "import type {UserProfile, UserStatus} from '@mattermost/types/users';",
    "import type {PreferenceType} from '@mattermost/types/preferences';",
    "import type {Team, TeamMembership, TeamUnread, TeamStats} from '@mattermost/types/teams';",
    "import type {ServerLimits} from '@mattermost/types/limits';",
    "import type {ClientPluginManifest} from '@mattermost/types/plugins';",
    "import type {UserPropertyField} from '@mattermost/types/properties';",
    "import type {Role} from '@mattermost/types/roles';",
    "import type {CustomEmoji} from '@mattermost/types/emojis';",
    "import type {ServerChannel, ChannelMembership, ChannelStats, ChannelViewResponse} from '@mattermost/types/channels';",
    "import type {OrderedChannelCategories, ChannelCategory} from '@mattermost/types/channel_categories';",
    "import type {UserThreadList, UserThread, UserThreadWithPost} from '@mattermost/types/threads';",
    "import type {Draft} from '@mattermost/types/drafts';",
    "import type {ChannelBookmark} from '@mattermost/types/channel_bookmarks';",
    "import type {Post, PostList, PaginatedPostList, PostAcknowledgement} from '@mattermost/types/posts';",
    "import type {Reaction} from '@mattermost/types/reactions';",
    "import type {StatusOK} from '@mattermost/types/client4';",
    'const is = <T,>() => <U extends T>(u: U): U => u;',
];
answers.forEach((a, i) => {
    lines.push(`// ${a.name}`);
    lines.push(`export const a${i} = is<${a.type}>()(${JSON.stringify(a.value ?? null)});`);
});
writeFileSync(path.join(outDir, 'answers.ts'), lines.join('\n') + '\n');
writeFileSync(path.join(outDir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
        strict: true, noEmit: true, skipLibCheck: true, target: 'es2022', module: 'es2022',
        moduleResolution: 'bundler', baseUrl: '.', typeRoots: [],
        paths: {'@mattermost/types/*': [path.join(typesDir, 'lib/*')]},
    },
    files: ['answers.ts'],
}));
let tsc = {ok: true, output: ''};
try {
    execFileSync(process.execPath, [path.join(path.dirname(new URL(import.meta.url).pathname), 'node_modules/typescript/bin/tsc'), '--pretty', 'false', '-p', outDir], {encoding: 'utf8'});
} catch (err) {
    tsc = {ok: false, output: String(err.stdout ?? '') + String(err.stderr ?? '')};
}
console.log(JSON.stringify({calls, tsc}));
