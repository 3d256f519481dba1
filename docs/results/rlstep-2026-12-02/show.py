import json,sys
for l in open(sys.argv[1]+'/metrics.jsonl'):
    m=json.loads(l)
    s=m.get('step')
    if 'alpha' not in m or s%10: continue
    f=lambda k: f"{m[k]:.3f}" if isinstance(m.get(k),float) else str(m.get(k))
    print(s, ' '.join(f'{k}={f(k)}' for k in ['alpha','reward_mean','no_spread_share','entropy','kl_ref','rl_scale','canary_accuracy','canary_majority_gold','canary_reward_auroc']))
