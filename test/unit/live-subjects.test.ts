import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { flowNames, liveSubjects } from '../../services/bus/names.js';
import { subjectMatches } from '../../services/bus/types.js';

describe('live subject names (services/bus/names.ts builds every one)', () => {
  it('spells each subject flow.live.<streamType>.<name>.<what>', () => {
    expect(liveSubjects.output('backend-child', 'api')).toBe('flow.live.backend-child.api.output');
    expect(liveSubjects.output('tunnel', 'web')).toBe('flow.live.tunnel.web.output');
    expect(liveSubjects.outputs('backend-child')).toBe('flow.live.backend-child.*.output');
    expect(liveSubjects.session('oc-1', 'ses_A1')).toBe('flow.live.opencode-instance.oc-1.session.ses_A1');
    expect(liveSubjects.attention('oc-1')).toBe('flow.live.opencode-instance.oc-1.attention');
    expect(liveSubjects.attentionAll).toBe('flow.live.opencode-instance.*.attention');
    expect(liveSubjects.taskboard).toEqual({
      update: 'flow.live.taskboard.update',
      metadata: 'flow.live.taskboard.metadata-update',
      theme: 'flow.live.taskboard.theme',
      feature: 'flow.live.taskboard.feature',
      all: 'flow.live.taskboard.>',
    });
  });

  it('the patterns match what the builders publish, and nothing of another kind', () => {
    expect(subjectMatches(liveSubjects.outputs('backend-child'), liveSubjects.output('backend-child', 'api'))).toBe(true);
    expect(subjectMatches(liveSubjects.outputs('backend-child'), liveSubjects.output('tunnel', 'api'))).toBe(false);
    expect(subjectMatches(liveSubjects.attentionAll, liveSubjects.attention('oc-1'))).toBe(true);
    expect(subjectMatches(liveSubjects.taskboard.all, liveSubjects.taskboard.update)).toBe(true);
  });

  it('parses a subject back into its stream type and tokens', () => {
    expect(liveSubjects.parse(liveSubjects.output('backend-child', 'api'))).toEqual({ streamType: 'backend-child', tokens: ['api', 'output'] });
    expect(liveSubjects.parse(liveSubjects.taskboard.theme)).toEqual({ streamType: 'taskboard', tokens: ['theme'] });
    expect(liveSubjects.parse('flow.events.backend-child.backend-child:api')).toBeUndefined();
    expect(liveSubjects.parse('something.else')).toBeUndefined();
  });

  it('given a name with dots, wildcards, spaces or nothing at all, it stays one token: it can neither split a subject nor widen a subscription', () => {
    for (const hostile of ['a.b', '*', '>', 'a b', '', '%2e', 'ünï', 'x\ny']) {
      const subject = liveSubjects.session('oc-1', hostile);
      expect(subject.split('.')).toHaveLength(6);
      expect(subject).not.toMatch(/[*> \n]/);
      expect(subjectMatches(subject, liveSubjects.session('oc-1', 'other'))).toBe(false);
      expect(liveSubjects.parse(subject)?.tokens).toEqual(['oc-1', 'session', hostile]);
    }
  });

  it('property: two different names never give the same subject', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        fc.pre(a !== b);
        expect(liveSubjects.output('backend-child', a)).not.toBe(liveSubjects.output('backend-child', b));
      }),
    );
  });

  it('event subjects carry the prefix; live subjects get it on the way to NATS', () => {
    const names = flowNames('t1');
    expect(names.eventSubject('backend-child', 'backend-child:api')).toBe('t1.flow.events.backend-child.backend-child:api');
    expect(names.eventsWildcard).toBe('t1.flow.events.>');
    expect(names.toNats(liveSubjects.output('tunnel', 'web'))).toBe('t1.flow.live.tunnel.web.output');
    expect(names.fromNats('t1.flow.live.tunnel.web.output')).toBe('flow.live.tunnel.web.output');
  });
});
